import { describe, expect, it } from '@jest/globals';
import { etag, ifMatchVersion } from '../../src/domain/etag.ts';
import { canonicalJson, requestHash } from '../../src/domain/request-hash.ts';
import { isTimeZone } from '../../src/domain/time-zone.ts';

describe('requestHash', () => {
  it('ignores key order, not values, params or nesting', () => {
    const a = requestHash({ params: {}, body: { a: 1, b: { c: [1, 2], d: 'x' } } });
    expect(requestHash({ params: {}, body: { b: { d: 'x', c: [1, 2] }, a: 1 } })).toBe(a);
    expect(requestHash({ params: {}, body: { a: 1, b: { c: [2, 1], d: 'x' } } })).not.toBe(a);
    expect(requestHash({ params: { id: '1' }, body: { a: 1, b: { c: [1, 2], d: 'x' } } })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('canonical JSON sorts keys and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [true, null, { z: undefined, y: 's' }] })).toBe('{"a":[true,null,{"y":"s"}],"b":1}');
  });
});

describe('If-Match', () => {
  it.each([
    ['"3"', 3],
    ['3', 3],
    ['W/"3"', 3],
    [undefined, undefined],
    ['"1", "2"', null],
    ['*', null],
  ])('%s → %s', (header, version) => expect(ifMatchVersion(header)).toBe(version));

  it('the ETag is the quoted version', () => expect(etag(7)).toBe('"7"'));
});

describe('isTimeZone', () => {
  it.each([
    ['Europe/Paris', true],
    ['UTC', true],
    ['America/Argentina/Buenos_Aires', true],
    ['Mars/Olympus', false],
    ['', false],
  ])('%s → %s', (name, ok) => expect(isTimeZone(name)).toBe(ok));
});
