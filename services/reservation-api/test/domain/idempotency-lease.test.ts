import { describe, expect, it } from '@jest/globals';
import { DONE_VALUE, LEASE_PREFIX, leaseKey, leaseOutcome, runningValue } from '../../src/domain/idempotency-lease.ts';

describe('the Idempotency-Key lease', () => {
  it('is acquired when nothing held the key, running while another request holds it, done once that one answered', () => {
    expect(leaseOutcome(null)).toBe('acquired');
    expect(leaseOutcome(runningValue('abc'))).toBe('running');
    expect(leaseOutcome(DONE_VALUE)).toBe('done');
    // A value this version does not write (another version's, a hand edit) holds the key until it expires.
    expect(leaseOutcome('something else')).toBe('running');
  });

  it('has one fixed-length Redis key per caller, route and key, whatever characters they hold', () => {
    const scope = { caller: 'customer:alice', route: 'POST /v1/reservations', key: 'k:1' };
    const key = leaseKey(scope);
    expect(key.startsWith(LEASE_PREFIX)).toBe(true);
    expect(key).toHaveLength(LEASE_PREFIX.length + 43);
    expect(leaseKey({ ...scope })).toBe(key);
    // The separator cannot be forged: ("a:b", "c") and ("a", "b:c") are two keys.
    expect(leaseKey({ ...scope, caller: 'customer', key: 'alice:k:1' })).not.toBe(key);
    expect(leaseKey({ ...scope, caller: 'customer:Alice' })).not.toBe(key);
    expect(leaseKey({ ...scope, route: 'POST /v1/reservations/:id/confirm' })).not.toBe(key);
  });
});
