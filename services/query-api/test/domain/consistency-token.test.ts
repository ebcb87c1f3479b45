import { describe, expect, it } from '@jest/globals';
import { isConsistencyToken } from '../../src/domain/consistency-token.ts';

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
