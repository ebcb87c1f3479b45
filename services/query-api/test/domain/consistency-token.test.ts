import { describe, expect, it } from '@jest/globals';
import { isAheadOf } from '../../src/domain/consistency-token.ts';

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
