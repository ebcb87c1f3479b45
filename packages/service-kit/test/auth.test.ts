import { describe, expect, it } from '@jest/globals';
import { createSigner } from 'fast-jwt';
import { bearerToken, createPrincipalVerifier } from '../src/auth.ts';

describe('bearerToken (RFC 6750 §2.1)', () => {
  it('takes the token of a Bearer header, whatever the scheme’s case', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('bearer a-b_c.d~e+f/g==')).toBe('a-b_c.d~e+f/g==');
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic YTpi', 'Bearer a b', 'Bearer a,b'])('%p is a 401', (header) => {
    expect(() => bearerToken(header)).toThrow(expect.objectContaining({ status: 401, code: 'unauthorized' }));
  });
});

describe('createPrincipalVerifier', () => {
  const secret = 'a-test-secret-that-is-at-least-32-bytes';
  const sign = createSigner({ key: secret, algorithm: 'HS256' });

  it('turns a verified token into its principal, on every use', () => {
    const principalOf = createPrincipalVerifier({ secret });
    const token = sign({ sub: 'alice', role: 'customer' });
    expect(principalOf(token)).toEqual({ id: 'alice', role: 'customer' });
    expect(principalOf(token)).toEqual({ id: 'alice', role: 'customer' });
  });

  it('a remembered token is refused once it expires', async () => {
    const principalOf = createPrincipalVerifier({ secret });
    // fast-jwt accepts a token through its `exp` second: this one ends within two seconds.
    const exp = Math.floor(Date.now() / 1000) + 1;
    const token = sign({ sub: 'alice', role: 'customer', exp });
    expect(principalOf(token).id).toBe('alice');
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 + 50 - Date.now()));
    expect(() => principalOf(token)).toThrow(expect.objectContaining({ code: 'FAST_JWT_EXPIRED' }));
  });

  it('is keyed by the whole token: another token is verified on its own', () => {
    const principalOf = createPrincipalVerifier({ secret });
    const alice = sign({ sub: 'alice', role: 'customer' });
    expect(principalOf(alice).id).toBe('alice');
    const forged = `${alice.slice(0, -4)}AAAA`;
    expect(() => principalOf(forged)).toThrow(expect.objectContaining({ code: 'FAST_JWT_INVALID_SIGNATURE' }));
    const foreign = createSigner({ key: 'another-secret-that-is-at-least-32-bytes', algorithm: 'HS256' })({ sub: 'alice', role: 'admin' });
    expect(() => principalOf(foreign)).toThrow(expect.objectContaining({ code: 'FAST_JWT_INVALID_SIGNATURE' }));
  });

  it.each([
    ['no subject', { role: 'customer' }],
    ['an empty subject', { sub: '', role: 'customer' }],
    ['an unknown role', { sub: 'alice', role: 'root' }],
  ])('a token with %s is a 401', (_what, claims) => {
    const principalOf = createPrincipalVerifier({ secret });
    expect(() => principalOf(sign(claims))).toThrow(expect.objectContaining({ status: 401, code: 'unauthorized' }));
  });
});
