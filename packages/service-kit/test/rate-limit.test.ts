import { describe, expect, it } from '@jest/globals';
import { createStoreBreaker, rateLimitClassOf, rateLimitKey, windowAt } from '../src/rate-limit.ts';

describe('rateLimitClassOf', () => {
  it.each([
    ['GET', undefined, 'reads'],
    ['HEAD', undefined, 'reads'],
    ['POST', undefined, 'writes'],
    ['PATCH', undefined, 'writes'],
    ['PUT', undefined, 'writes'],
    ['DELETE', undefined, 'writes'],
    ['POST', 'holds', 'holds'],
  ] as const)('%s with route class %p counts as %s', (method, routeClass, expected) => {
    expect(rateLimitClassOf(method, routeClass)).toBe(expected);
  });
});

describe('rateLimitKey', () => {
  it('is per class, role and exact subject', () => {
    const keys = [
      rateLimitKey('reads', { role: 'customer', id: 'alice' }),
      rateLimitKey('writes', { role: 'customer', id: 'alice' }),
      rateLimitKey('reads', { role: 'provider', id: 'alice' }),
      rateLimitKey('reads', { role: 'customer', id: 'Alice' }),
      rateLimitKey('reads', { role: 'customer', id: 'alice ' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a subject with colons cannot spell another role’s key', () => {
    expect(rateLimitKey('reads', { role: 'customer', id: 'x:provider:y' })).not.toBe(rateLimitKey('reads', { role: 'provider', id: 'y' }));
  });
});

describe('createStoreBreaker', () => {
  it('uses the shared store until a failure, then the local one for the fallback time, then the shared one again', () => {
    let clock = 1_000;
    const breaker = createStoreBreaker(5_000, () => clock);
    expect(breaker.useShared()).toBe(true);
    expect(breaker.failed()).toBe(true); // switches: counted and logged once
    expect(breaker.useShared()).toBe(false);
    clock += 4_999;
    expect(breaker.useShared()).toBe(false);
    clock += 1;
    expect(breaker.useShared()).toBe(true);
  });

  it('a failure while already local (a call that was in flight) extends the fallback without counting a new switch', () => {
    let clock = 0;
    const breaker = createStoreBreaker(1_000, () => clock);
    expect(breaker.failed()).toBe(true);
    clock = 500;
    expect(breaker.failed()).toBe(false);
    clock = 1_200;
    expect(breaker.useShared()).toBe(false);
    clock = 1_500;
    expect(breaker.useShared()).toBe(true);
  });
});

describe('windowAt', () => {
  it('puts every replica in the same fixed window, with what is left of it', () => {
    expect(windowAt(120_000, 60_000)).toEqual({ window: 2, ttl: 60_000 });
    expect(windowAt(179_999, 60_000)).toEqual({ window: 2, ttl: 1 });
    expect(windowAt(180_000, 60_000)).toEqual({ window: 3, ttl: 60_000 });
  });
});
