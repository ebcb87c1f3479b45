import fastifyJwt from '@fastify/jwt';
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

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role };
    user: { sub: string; role: Role };
  }
}

/**
 * Verifies the bearer token on every route unless the route says `config: { public: true }`;
 * a missing, malformed, expired or badly signed token is a 401, a token without a known role too.
 */
/** The verification key from the services' JWT_PUBLIC_KEY (RS256) or JWT_SECRET (HS256) setting. */
export function authKeys(config: { JWT_SECRET?: string | undefined; JWT_PUBLIC_KEY?: string | undefined }): AuthKeys {
  if (config.JWT_PUBLIC_KEY) return { publicKey: config.JWT_PUBLIC_KEY };
  if (config.JWT_SECRET) return { secret: config.JWT_SECRET };
  throw new ConfigError('set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)');
}

export const auth = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const publicPrefixes = options.publicPrefixes ?? [];
    // fast-jwt's LRU of verified tokens (expiry still enforced on each hit): clients send the same
    // token for many requests, and signature checks dominate a cached read.
    const cache = { cache: 10_000 };
    if (options.publicKey) {
      await app.register(fastifyJwt, { secret: { public: options.publicKey }, verify: { algorithms: ['RS256'], ...cache } });
    } else if (options.secret) {
      await app.register(fastifyJwt, { secret: options.secret, verify: { algorithms: ['HS256'], ...cache }, sign: { algorithm: 'HS256' } });
    } else {
      throw new Error('auth needs a secret (HS256) or a public key (RS256)');
    }
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.public || publicPrefixes.some((p) => request.url.startsWith(p))) return;
      await request.jwtVerify();
      const { sub, role } = request.user;
      if (typeof sub !== 'string' || sub === '' || !ROLES.includes(role)) {
        throw new Problem(kitProblems, 'unauthorized', 'the token needs a subject and a role of customer, provider or admin', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      request.principal = { id: sub, role };
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
