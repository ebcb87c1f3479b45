import { describe, expect, it } from '@jest/globals';
import { isAheadOf, isConsistencyToken } from '../../src/domain/consistency-token.ts';

describe('consistency tokens', () => {
  it.each(['0-1-42', '0-1-42,1-2-7'])('accepts the GTID list %s', (token) => {
    expect(isConsistencyToken(token)).toBe(true);
  });

  it.each([
    ['an empty value', ''],
    ['a lone number', '42'],
    ['a trailing comma', '0-1-42,'],
    ['SQL', "0-1-42'; DROP TABLE reservations; --"],
    ['a list longer than 512 characters', Array.from({ length: 60 }, () => '0-1-123456').join(',')],
  ])('refuses %s', (_what, token) => {
    expect(isConsistencyToken(token)).toBe(false);
  });
});

describe('isAheadOf (the primary’s @@gtid_binlog_pos)', () => {
  it.each([
    ['the primary’s own position', '0-1-42', '0-1-42', false],
    ['an older write', '0-1-7', '0-1-42', false],
    ['a write of another server id, same domain', '0-2-40', '0-1-42', false],
    ['each domain within the primary’s', '0-1-42,1-1-3', '0-1-50,1-1-3', false],
    ['past the primary in its domain', '0-1-43', '0-1-42', true],
    ['far ahead (a forged token)', '0-1-999999999999', '0-1-42', true],
    ['a domain the primary never wrote', '0-1-1,7-1-1', '0-1-42', true],
    ['past it in one of two domains', '0-1-42,1-1-4', '0-1-50,1-1-3', true],
  ])('%s: %s against %s → %p', (_what, token, position, ahead) => {
    expect(isAheadOf(token, position)).toBe(ahead);
  });
});
