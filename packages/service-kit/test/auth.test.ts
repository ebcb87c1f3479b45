import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { type AuthSettings, auth, authSettings, bearerToken, createPrincipalVerifier, type JwtConfig } from '../src/auth.ts';
import { createTokenMinter } from '../src/token-minter.ts';

describe('bearerToken (RFC 6750 §2.1)', () => {
  it('takes the token of a Bearer header, whatever the scheme’s case', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('bearer a-b_c.d~e+f/g==')).toBe('a-b_c.d~e+f/g==');
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic YTpi', 'Bearer a b', 'Bearer a,b'])('%p is a 401', (header) => {
    expect(() => bearerToken(header)).toThrow(expect.objectContaining({ status: 401, code: 'unauthorized' }));
  });
});

describe('authSettings', () => {
  const config: JwtConfig = {
    JWT_ISSUER: 'https://idp.test/',
    JWT_AUDIENCE: 'reservations',
    JWT_MAX_TOKEN_AGE_SECONDS: 3600,
    JWT_CLOCK_SKEW_SECONDS: 30,
    JWT_JWKS_TIMEOUT_MS: 1000,
    JWT_JWKS_COOLDOWN_MS: 5000,
    JWT_JWKS_MAX_AGE_MS: 60_000,
  };

  it('takes the one key source and the policy', () => {
    expect(authSettings({ ...config, JWT_JWKS_URL: 'https://idp.test/jwks' })).toEqual({
      jwksUrl: 'https://idp.test/jwks',
      jwks: { timeoutMs: 1000, cooldownMs: 5000, maxAgeMs: 60_000 },
      issuer: 'https://idp.test/',
      audience: 'reservations',
      maxTokenAgeSeconds: 3600,
      clockSkewSeconds: 30,
    });
    expect(authSettings({ ...config, JWT_SECRET: 's'.repeat(32) })).toMatchObject({ secret: 's'.repeat(32), issuer: 'https://idp.test/' });
  });

  it('refuses no key source, or two, naming the variables', () => {
    expect(() => authSettings(config)).toThrow('set one of JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256) or JWT_JWKS_URL');
    expect(() => authSettings({ ...config, JWT_SECRET: 's'.repeat(32), JWT_JWKS_URL: 'https://idp.test/jwks' })).toThrow(
      'set only one of JWT_SECRET, JWT_JWKS_URL',
    );
  });
});

describe('createPrincipalVerifier', () => {
  const secret = 'a-test-secret-that-is-at-least-32-bytes';
  const settings: AuthSettings = {
    secret,
    issuer: 'https://idp.test/',
    audience: 'reservations',
    maxTokenAgeSeconds: 3600,
    clockSkewSeconds: 30,
  };
  let clock = Date.UTC(2030, 0, 1);
  const now = () => clock;
  const mint = createTokenMinter({ issuer: settings.issuer, audience: settings.audience, key: { secret }, ttlSeconds: 600, now });

  it('turns a verified token into its principal, and a repeated token is answered from memory', async () => {
    const principalOf = createPrincipalVerifier(settings, { now });
    const token = mint({ sub: 'alice', role: 'customer' });
    expect(await principalOf(token)).toEqual({ id: 'alice', role: 'customer' });
    // A hit is the principal itself, not a promise: no signature check, no microtask.
    expect(principalOf(token)).toEqual({ id: 'alice', role: 'customer' });
  });

  it('a remembered token is refused once it expires, beyond the clock skew', async () => {
    clock = Date.UTC(2030, 0, 1);
    const principalOf = createPrincipalVerifier(settings, { now });
    const token = mint({ sub: 'alice', role: 'customer' });
    expect((await principalOf(token)).id).toBe('alice');
    clock += 600_000 + 20_000; // past exp, within the skew: still accepted, checked again
    expect((await principalOf(token)).id).toBe('alice');
    clock += 11_000;
    await expect(principalOf(token)).rejects.toMatchObject({ status: 401, code: 'unauthorized', detail: expect.stringMatching(/"exp"/) });
  });

  it('a remembered token is checked again after maxAgeMs', async () => {
    clock = Date.UTC(2030, 0, 1);
    const principalOf = createPrincipalVerifier({ ...settings, maxTokenAgeSeconds: 120 }, { now, maxAgeMs: 60_000 });
    const token = mint({ sub: 'alice', role: 'customer' });
    expect((await principalOf(token)).id).toBe('alice');
    clock += 151_000; // issued 151 s ago: older than 120 s plus the 30 s skew
    await expect(principalOf(token)).rejects.toMatchObject({ status: 401, detail: expect.stringMatching(/"iat"/) });
  });

  it('is keyed by the whole token: another token is verified on its own', async () => {
    const principalOf = createPrincipalVerifier(settings, { now });
    const alice = mint({ sub: 'alice', role: 'customer' });
    expect((await principalOf(alice)).id).toBe('alice');
    await expect(principalOf(`${alice.slice(0, -4)}AAAA`)).rejects.toMatchObject({ status: 401, detail: 'signature verification failed' });
    const foreign = createTokenMinter({
      issuer: settings.issuer,
      audience: settings.audience,
      key: { secret: 'another-secret-that-is-at-least-32-bytes' },
      now,
    });
    await expect(principalOf(foreign({ sub: 'alice', role: 'admin' }))).rejects.toMatchObject({ status: 401 });
  });

  it.each([
    ['an empty subject', { sub: '', role: 'customer' }],
    ['an unknown role', { sub: 'alice', role: 'root' }],
  ])('a token with %s is a 401', async (_what, claims) => {
    const principalOf = createPrincipalVerifier(settings, { now });
    await expect(principalOf(mint(claims))).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('the auth plugin', () => {
  it('refuses to start with a public key that is not one, naming the variable', async () => {
    const app = Fastify({ logger: false });
    const starting = (async () => {
      await app.register(auth, {
        publicKey: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----',
        issuer: 'https://idp.test/',
        audience: 'reservations',
        maxTokenAgeSeconds: 3600,
        clockSkewSeconds: 30,
      });
      await app.ready();
    })();
    await expect(starting).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/^JWT_PUBLIC_KEY is not an RS256 public key/),
    });
  });
});
