import { createVerifier } from 'fast-jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
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

/** HS256 with a shared secret, or RS256 with the issuer's public key (PEM); exactly one of them. */
export type AuthKeys = { secret: string; publicKey?: undefined } | { publicKey: string; secret?: undefined };

export type AuthOptions = AuthKeys & {
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

/** The verification key from the services' JWT_PUBLIC_KEY (RS256) or JWT_SECRET (HS256) setting. */
export function authKeys(config: { JWT_SECRET?: string | undefined; JWT_PUBLIC_KEY?: string | undefined }): AuthKeys {
  if (config.JWT_PUBLIC_KEY) return { publicKey: config.JWT_PUBLIC_KEY };
  if (config.JWT_SECRET) return { secret: config.JWT_SECRET };
  throw new ConfigError('set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)');
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

/**
 * Turns a bearer token into its principal with fast-jwt, and remembers the principal of each
 * verified token until the token expires (`exp`, checked on every hit) or `maxAgeMs` passes:
 * clients send one token for many requests, and a signature check per request would dominate a
 * cached read. The cache is keyed by the token itself, so two tokens never share an entry (the
 * collision fast-jwt's advisory GHSA-rp9m-7r4c-75qg is about); fast-jwt's own cache keys by a
 * SHA-256 of the token, computed on every lookup, which was a fifth of a cached GET's CPU
 * (docs/booking.md). A missing, malformed, expired or badly signed token throws fast-jwt's
 * FAST_JWT_* error (a 401, problem.ts); one without a subject or a known role is a 401 too.
 */
export function createPrincipalVerifier(
  keys: AuthKeys,
  { maxEntries = 10_000, maxAgeMs = 600_000, now = Date.now }: PrincipalCacheOptions = {},
): (token: string) => Principal {
  const key = keys.publicKey ?? keys.secret;
  if (!key) throw new Error('auth needs a secret (HS256) or a public key (RS256)');
  const verify = createVerifier({ key, algorithms: [keys.publicKey ? 'RS256' : 'HS256'], cache: false });
  const verified = createLRU<string, { principal: Principal; until: number }>({ max: maxEntries });
  return (token) => {
    const at = now();
    const held = verified.get(token);
    if (held && at <= held.until) return held.principal;
    const { sub, role, exp } = verify(token) as { sub?: unknown; role?: unknown; exp?: unknown };
    if (typeof sub !== 'string' || sub === '' || !ROLES.includes(role as Role)) {
      throw new Problem(kitProblems, 'unauthorized', 'the token needs a subject and a role of customer, provider or admin', {
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      });
    }
    const principal = { id: sub, role: role as Role };
    // fast-jwt accepts a token up to and including its `exp` second.
    verified.set(token, { principal, until: Math.min(typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY, at + maxAgeMs) });
    return principal;
  };
}

/** Verifies the bearer token on every route unless the route says `config: { public: true }` (401 otherwise). */
export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const publicPrefixes = options.publicPrefixes ?? [];
    const principalOf = createPrincipalVerifier(options);
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.public || publicPrefixes.some((p) => request.url.startsWith(p))) return;
      request.principal = principalOf(bearerToken(request.headers.authorization));
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
