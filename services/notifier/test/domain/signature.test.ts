import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { newSecret, signedHeaders, verificationFailure } from '../../src/domain/signature.ts';

const body = JSON.stringify({ eventId: 'e1', type: 'reservation.created' });
const now = new Date('2030-01-01T10:00:00Z');

describe('webhook signatures (Standard Webhooks)', () => {
  it('signs id.timestamp.body with HMAC-SHA256 keyed by the base64 secret', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const headers = signedHeaders([secret], 'e1', body, now);
    expect(headers['webhook-timestamp']).toBe(String(now.getTime() / 1000));
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`e1.${headers['webhook-timestamp']}.${body}`)
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(verificationFailure(secret, { ...headers }, body, { now })).toBeUndefined();
  });

  it.each([
    ['a changed body', (h: Record<string, string>) => [h, `${body} `]],
    ['a changed event id', (h: Record<string, string>) => [{ ...h, 'webhook-id': 'e2' }, body]],
    [
      'a changed timestamp',
      (h: Record<string, string>) => [{ ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) + 1) }, body],
    ],
  ] as const)('refuses %s', (_what, tamper) => {
    const secret = newSecret();
    const [headers, tamperedBody] = tamper({ ...signedHeaders([secret], 'e1', body, now) });
    expect(verificationFailure(secret, headers as Record<string, string>, tamperedBody as string, { now })).toBe('no signature matches');
  });

  it('refuses another secret, a stale timestamp and missing headers', () => {
    const headers = { ...signedHeaders([newSecret()], 'e1', body, now) };
    expect(verificationFailure(newSecret(), headers, body, { now })).toBe('no signature matches');
    const secret = newSecret();
    const old = { ...signedHeaders([secret], 'e1', body, new Date(now.getTime() - 301_000)) };
    expect(verificationFailure(secret, old, body, { now })).toBe('webhook-timestamp is outside the tolerance');
    expect(verificationFailure(secret, {}, body, { now })).toMatch(/required/);
  });

  it('accepts any of several signatures (a secret rotation)', () => {
    const [before, after] = [newSecret(), newSecret()];
    const a = signedHeaders([before], 'e1', body, now);
    const b = signedHeaders([after], 'e1', body, now);
    const both = { ...a, 'webhook-signature': `${a['webhook-signature']} ${b['webhook-signature']}` };
    expect(verificationFailure(after, both, body, { now })).toBeUndefined();
  });

  it('signs with each secret given, space-separated, in order: either secret verifies alone', () => {
    const [current, previous] = [newSecret(), newSecret()];
    const headers = signedHeaders([current, previous], 'e1', body, now);
    const [first, second] = headers['webhook-signature'].split(' ');
    expect(first).toBe(signedHeaders([current], 'e1', body, now)['webhook-signature']);
    expect(second).toBe(signedHeaders([previous], 'e1', body, now)['webhook-signature']);
    expect(verificationFailure(current, { ...headers }, body, { now })).toBeUndefined();
    expect(verificationFailure(previous, { ...headers }, body, { now })).toBeUndefined();
    expect(verificationFailure(newSecret(), { ...headers }, body, { now })).toBe('no signature matches');
    expect(() => signedHeaders([], 'e1', body, now)).toThrow(/at least one secret/);
  });
});
