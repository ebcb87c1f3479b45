import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createRemoteJWKSet, errors, importSPKI, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { createLRU } from 'lru.min';
import { ConfigError } from './config.ts';
import { kitProblems, Problem } from './problem.ts';

export const ROLES = ['customer', 'provider', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the token's `sub` and its single role. */
export interface Principal {
  id: string;
  role: Role;
}

/**
 * Where the verification keys come from, exactly one of: an HS256 shared secret, the issuer's
 * RS256 public key (PEM), or the issuer's JWKS URL (RS256/ES256 keys picked by the token's `kid`).
 */
export type AuthKeys =
  | { secret: string; publicKey?: undefined; jwksUrl?: undefined }
  | { publicKey: string; secret?: undefined; jwksUrl?: undefined }
  | { jwksUrl: string; secret?: undefined; publicKey?: undefined };

/** What a token must say and how far its clock may be off: the identity provider's contract. */
export interface TokenPolicy {
  issuer: string;
  audience: string;
  /** A token issued (`iat`) longer ago than this is refused even if its `exp` is later. */
  maxTokenAgeSeconds: number;
  /** The tolerance on `exp`, `nbf` and `iat` for clocks that disagree. */
  clockSkewSeconds: number;
}

/** How the JWKS is fetched: each fetch's timeout, the least time between two refreshes, how long a fetched set is used. */
export interface JwksOptions {
  timeoutMs: number;
  cooldownMs: number;
  maxAgeMs: number;
}

export type AuthSettings = AuthKeys & TokenPolicy & { jwks?: JwksOptions };

export type AuthOptions = AuthSettings & {
  /** URL prefixes served without a token (the docs UI registers its own routes, which cannot carry `config`). */
  publicPrefixes?: string[];
};

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Routes that need no token (the OpenAPI document and its UI). */
    public?: boolean;
  }
}

/** The JWT settings of every API (config.ts's apiConfigProperties). */
export interface JwtConfig {
  JWT_SECRET?: string | undefined;
  JWT_PUBLIC_KEY?: string | undefined;
  JWT_JWKS_URL?: string | undefined;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  JWT_MAX_TOKEN_AGE_SECONDS: number;
  JWT_CLOCK_SKEW_SECONDS: number;
  JWT_JWKS_TIMEOUT_MS: number;
  JWT_JWKS_COOLDOWN_MS: number;
  JWT_JWKS_MAX_AGE_MS: number;
}

/** The verification settings from the services' JWT_* variables; exactly one key source, or a ConfigError. */
export function authSettings(config: JwtConfig): AuthSettings {
  const sources = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const).filter((name) => config[name]);
  if (sources.length !== 1) {
    throw new ConfigError(
      sources.length === 0
        ? 'set one of JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256) or JWT_JWKS_URL (the issuer’s keys by kid)'
        : `set only one of ${sources.join(', ')}: a token is verified with one kind of key`,
    );
  }
  const policy: TokenPolicy = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    maxTokenAgeSeconds: config.JWT_MAX_TOKEN_AGE_SECONDS,
    clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
  };
  if (config.JWT_JWKS_URL) {
    const jwks = { timeoutMs: config.JWT_JWKS_TIMEOUT_MS, cooldownMs: config.JWT_JWKS_COOLDOWN_MS, maxAgeMs: config.JWT_JWKS_MAX_AGE_MS };
    return { jwksUrl: config.JWT_JWKS_URL, jwks, ...policy };
  }
  if (config.JWT_PUBLIC_KEY) return { publicKey: config.JWT_PUBLIC_KEY, ...policy };
  return { secret: config.JWT_SECRET as string, ...policy };
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1); anything else is a 401. */
export function bearerToken(header: string | undefined): string {
  const token = header && /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)?.[1];
  if (!token) {
    throw new Problem(kitProblems, 'unauthorized', 'send Authorization: Bearer <token>', { headers: { 'www-authenticate': 'Bearer' } });
  }
  return token;
}

export interface PrincipalCacheOptions {
  /** Verified tokens remembered; the least recently used goes first. */
  maxEntries?: number;
  /** The longest a verified token is trusted without checking it again, even if it expires later. */
  maxAgeMs?: number;
  now?: () => number;
}

// Asymmetric algorithms only for a JWKS: an HS256 token "signed" with a published public key is
// the classic algorithm-confusion forgery (RFC 8725 §2.1), and jose refuses what is not listed.
const JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** The key for a token: by its `kid` from the issuer's JWKS, or the one static key whatever the header says. */
function keyOf(keys: AuthKeys, jwks: JwksOptions | undefined): { key: JWTVerifyGetKey; algorithms: string[] } {
  if (keys.jwksUrl) {
    const { timeoutMs = 2000, cooldownMs = 30_000, maxAgeMs = 600_000 } = jwks ?? {};
    // jose keeps the set, refetches it when it is older than maxAgeMs or a token names an unknown
    // kid (at most once per cooldown, one fetch shared by every waiting request), with a timeout.
    const getKey = createRemoteJWKSet(new URL(keys.jwksUrl), {
      timeoutDuration: timeoutMs,
      cooldownDuration: cooldownMs,
      cacheMaxAge: maxAgeMs,
    });
    return { key: getKey, algorithms: JWKS_ALGORITHMS };
  }
  if (keys.publicKey) {
    const publicKey = importSPKI(keys.publicKey, 'RS256');
    publicKey.catch(() => {}); // a bad key stops the start (the auth plugin imports it first)
    return { key: () => publicKey, algorithms: ['RS256'] };
  }
  if (keys.secret) {
    const secret = new TextEncoder().encode(keys.secret);
    return { key: () => secret, algorithms: ['HS256'] };
  }
  throw new Error('auth needs a secret (HS256), a public key (RS256) or a JWKS URL');
}

/** jose's refusals of the token itself: the caller's bad credential, a 401 (RFC 6750 §3.1). */
const REFUSALS = new Set([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWTInvalid.code,
  errors.JWSInvalid.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
]);

function invalidToken(detail: string): Problem {
  return new Problem(kitProblems, 'unauthorized', detail, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
}

/**
 * Turns a bearer token into its principal with jose, and remembers the principal of each verified
 * token until the token expires (`exp`, checked on every hit) or `maxAgeMs` passes: clients send
 * one token for many requests, and a signature check per request would dominate a cached read, so
 * only a miss pays for jose. The cache is keyed by the token itself, so two tokens never share an
 * entry, and a hit costs one map lookup (a hash of the token per lookup was a fifth of a cached
 * GET's CPU, docs/booking.md). A token is refused (a 401 problem) unless it is signed by a known
 * key with an allowed algorithm and has `iss` and `aud` as configured, an `exp` in the future,
 * an `iat` no older than the maximum age and not in the future, any `nbf` past (all within the
 * clock skew), a subject and a known role. When the issuer's JWKS cannot be fetched, the token
 * cannot be judged: a 503 with Retry-After, not a 401 that would make clients drop good tokens.
 */
export function createPrincipalVerifier(
  settings: AuthSettings,
  { maxEntries = 10_000, maxAgeMs = 600_000, now = Date.now }: PrincipalCacheOptions = {},
): (token: string) => Principal | Promise<Principal> {
  const { key, algorithms } = keyOf(settings, settings.jwks);
  const options = {
    algorithms,
    issuer: settings.issuer,
    audience: settings.audience,
    maxTokenAge: settings.maxTokenAgeSeconds,
    clockTolerance: settings.clockSkewSeconds,
    requiredClaims: ['exp', 'iat', 'sub'],
  };
  const verified = createLRU<string, { principal: Principal; until: number }>({ max: maxEntries });

  async function verify(token: string, at: number): Promise<Principal> {
    let payload: { sub?: unknown; role?: unknown; exp?: unknown };
    try {
      ({ payload } = await jwtVerify(token, key, { ...options, currentDate: new Date(at) }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code && REFUSALS.has(code)) throw invalidToken((err as Error).message);
      if (code === errors.JWKSTimeout.code || code === errors.JWKSInvalid.code || err instanceof TypeError) {
        throw new Problem(
          kitProblems,
          'token-keys-unavailable',
          `the token issuer's keys could not be fetched: ${(err as Error).message}`,
          {
            headers: { 'retry-after': '1' },
          },
        );
      }
      throw err;
    }
    const { sub, role, exp } = payload;
    if (typeof sub !== 'string' || sub === '' || !ROLES.includes(role as Role)) {
      throw invalidToken('the token needs a subject and a role of customer, provider or admin');
    }
    const principal = { id: sub, role: role as Role };
    verified.set(token, { principal, until: Math.min((exp as number) * 1000, at + maxAgeMs) });
    return principal;
  }

  // A hit returns the principal itself (no promise): the hook awaits it either way.
  return (token) => {
    const at = now();
    const held = verified.get(token);
    if (held && at < held.until) return held.principal;
    return verify(token, at);
  };
}

/** Verifies the bearer token on every route unless the route says `config: { public: true }` (401 otherwise). */
export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const publicPrefixes = options.publicPrefixes ?? [];
    if (options.publicKey) {
      await importSPKI(options.publicKey, 'RS256').catch((err: Error) => {
        throw new ConfigError(`JWT_PUBLIC_KEY is not an RS256 public key (PEM): ${err.message}`);
      });
    }
    const principalOf = createPrincipalVerifier(options);
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.public || publicPrefixes.some((p) => request.url.startsWith(p))) return;
      request.principal = await principalOf(bearerToken(request.headers.authorization));
    });
  },
  { name: 'auth', fastify: '5.x' },
);

/** A preHandler that lets only these roles through (403 otherwise). */
export function requireRole(...roles: Role[]) {
  return async (request: FastifyRequest) => {
    if (!roles.includes(request.principal.role)) {
      throw new Problem(kitProblems, 'forbidden', `this needs the role ${roles.join(' or ')}, the token has ${request.principal.role}`);
    }
  };
}
