import { describe, expect, it } from '@jest/globals';
import type { Principal } from '../src/auth.ts';
import { ConfigError } from '../src/config.ts';
import { checkConsistencyToken, signConsistencyToken } from '../src/consistency-token.ts';
import { SigningKeys } from '../src/signing.ts';

const OLD = 'the-old-booking-signing-key-of-32-characters';
const NEW = 'the-new-booking-signing-key-of-32-characters';
const alice: Principal = { id: 'alice', role: 'customer' };
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const check = (keys: SigningKeys, token: string, principal: Principal = alice, now = NOW) =>
  checkConsistencyToken(keys, token, { principal, clockSkewSeconds: 30, now });

describe('SigningKeys', () => {
  it.each([
    ['an empty list', ''],
    ['a short key', 'short'],
    ['a short key beside a good one', `${NEW},short`],
    ['an empty entry', `${NEW},`],
  ])('refuses %s with an error naming BOOKING_SIGNING_KEYS and not the value', (_what, list) => {
    expect(() => new SigningKeys(list)).toThrow(ConfigError);
    expect(() => new SigningKeys(list)).toThrow(/^BOOKING_SIGNING_KEYS \(value hidden\) must be/);
  });

  it('a MAC for one purpose does not verify for another', () => {
    const keys = new SigningKeys(NEW);
    const mac = keys.sign('cache-entry', 'message');
    expect(keys.verify('cache-entry', 'message', mac)).toBe(true);
    expect(keys.verify('consistency-token', 'message', mac)).toBe(false);
    expect(keys.verify('cache-entry', 'message2', mac)).toBe(false);
  });
});

describe('consistency tokens', () => {
  const keys = new SigningKeys(NEW);
  const token = signConsistencyToken(keys, { gtid: '0-1-42,1-2-7', principal: alice, ttlSeconds: 600, now: NOW });

  it('carries the GTID, its expiry and a MAC, and checks for its principal until it expires', () => {
    expect(token).toMatch(/^0-1-42,1-2-7\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(check(keys, token)).toEqual({ ok: true, gtid: '0-1-42,1-2-7', expires: NOW / 1000 + 600 });
    // Within the clock skew after its expiry, still good; past it, expired.
    expect(check(keys, token, alice, NOW + 620_000).ok).toBe(true);
    expect(check(keys, token, alice, NOW + 631_000)).toEqual({
      ok: false,
      reason: 'expired',
      message: 'expired at 2026-12-03T12:10:00.000Z',
    });
  });

  it.each([
    ['another customer', { id: 'bob', role: 'customer' as const }],
    ['the same sub in another role', { id: 'alice', role: 'provider' as const }],
    ['the same sub, another case', { id: 'Alice', role: 'customer' as const }],
  ])('is refused for %s like a forged one', (_what, principal) => {
    expect(check(keys, token, principal)).toMatchObject({ ok: false, reason: 'forged' });
  });

  it.each([
    ['a later GTID', token.replace('0-1-42', '0-1-99999')],
    ['a later expiry', token.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 86_400}.`)],
    ['another MAC', `${token.slice(0, -43)}${'A'.repeat(43)}`],
    [
      'a key no one configured',
      signConsistencyToken(new SigningKeys(OLD), { gtid: '0-1-42', principal: alice, ttlSeconds: 600, now: NOW }),
    ],
  ])('refuses %s as forged', (_what, forged) => {
    expect(check(keys, forged)).toMatchObject({
      ok: false,
      reason: 'forged',
      message: 'is not a consistency token this platform issued to you',
    });
  });

  it.each([
    ['an empty value', ''],
    ['a bare GTID (the unsigned form)', '0-1-42'],
    ['a trailing comma', '0-1-42,.1767225600.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['SQL', "0-1-42'; DROP TABLE reservations; --"],
    ['a list longer than 512 characters', `${Array.from({ length: 60 }, () => '0-1-123456').join(',')}.1.${'A'.repeat(43)}`],
  ])('refuses %s as malformed', (_what, value) => {
    expect(check(keys, value)).toEqual({ ok: false, reason: 'malformed', message: 'is not a consistency token' });
  });

  it('rotation: a token signed with the old key checks while both are listed, new ones are signed with the first', () => {
    const old = signConsistencyToken(new SigningKeys(OLD), { gtid: '0-1-42', principal: alice, ttlSeconds: 600, now: NOW });
    const overlap = new SigningKeys(`${NEW},${OLD}`);
    expect(check(overlap, old).ok).toBe(true);
    const fresh = signConsistencyToken(overlap, { gtid: '0-1-43', principal: alice, ttlSeconds: 600, now: NOW });
    expect(check(new SigningKeys(NEW), fresh).ok).toBe(true);
    expect(check(new SigningKeys(OLD), fresh).ok).toBe(false);
    // Once the old key is retired, its tokens are refused.
    expect(check(new SigningKeys(NEW), old).ok).toBe(false);
  });
});
