import { createVerifier } from 'fast-jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
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

/**
 * Verifies the bearer token on every route unless the route says `config: { public: true }`;
 * a missing, malformed, expired or badly signed token is a 401, a token without a known role too.
 */
export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const publicPrefixes = options.publicPrefixes ?? [];
    const key = options.publicKey ?? options.secret;
    if (!key) throw new Error('auth needs a secret (HS256) or a public key (RS256)');
    // fast-jwt's LRU of verified tokens (expiry still enforced on each hit): clients send the same
    // token for many requests, and signature checks would dominate a cached read. Its default
    // cache key (a hash of the token) stays: a custom key builder is what its advisory
    // GHSA-rp9m-7r4c-75qg warns about.
    const verify = createVerifier({ key, algorithms: [options.publicKey ? 'RS256' : 'HS256'], cache: 10_000 });
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.public || publicPrefixes.some((p) => request.url.startsWith(p))) return;
      // A bad signature, algorithm or expiry throws fast-jwt's FAST_JWT_* error: a 401 (problem.ts).
      const { sub, role } = verify(bearerToken(request.headers.authorization)) as { sub?: unknown; role?: unknown };
      if (typeof sub !== 'string' || sub === '' || !ROLES.includes(role as Role)) {
        throw new Problem(kitProblems, 'unauthorized', 'the token needs a subject and a role of customer, provider or admin', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      request.principal = { id: sub, role: role as Role };
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
