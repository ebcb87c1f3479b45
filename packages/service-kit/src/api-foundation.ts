import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { type DocumentedRoute, placeLinks, plumbingResponses, RouteMethods } from './api-document.ts';
import { assetDir } from './assets.ts';
import { auth, authSettings, type JwtConfig } from './auth.ts';
import { httpMetrics } from './metrics.ts';
import { kitProblems, Problem, problemHandler } from './problem.ts';
import { rateLimit } from './rate-limit.ts';
import { createValidatorCompiler } from './validation.ts';

export interface ApiFoundationOptions {
  /** The OpenAPI document's title and description. */
  title: string;
  description: string;
  registry: Registry;
  /** Shed load (503 + Retry-After) past this event loop delay; 0 disables. */
  maxEventLoopDelayMs: number;
  /** The JWT settings: one key source (JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL) and the token policy. */
  jwt: JwtConfig;
  /** The rate limit settings (RATE_LIMIT_*) and the Redis that shares the counts across replicas. */
  rateLimit: RateLimitConfig;
}

export interface RateLimitConfig {
  REDIS_URL: string;
  RATE_LIMIT_WINDOW_SECONDS: number;
  RATE_LIMIT_READS: number;
  RATE_LIMIT_WRITES: number;
  RATE_LIMIT_HOLDS: number;
  RATE_LIMIT_REDIS_TIMEOUT_MS: number;
  RATE_LIMIT_SYNC_MS: number;
  RATE_LIMIT_FALLBACK_MS: number;
}

/** swagger-ui's static files: beside the bundle (images/bundle.ts copies them), or the installed package's. */
function swaggerUiDir(): string {
  return assetDir(import.meta.dirname, 'swagger-ui', () =>
    join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static'),
  );
}

/**
 * What every API of the platform registers before its own plugins, in this order: strict
 * validation, problem+json errors (documented on every route as the plumbing may answer them), RED metrics, load shedding, the OpenAPI document with its UI
 * at /docs, bearer-token auth on everything but /docs, and per-principal rate limits after it.
 */
export async function registerApiFoundation(app: FastifyInstance, options: ApiFoundationOptions): Promise<void> {
  app.setValidatorCompiler(createValidatorCompiler());
  await app.register(problemHandler);
  await app.register(httpMetrics, { registry: options.registry });
  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, { maxEventLoopDelay: options.maxEventLoopDelayMs, retryAfter: 1, exposeStatusRoute: false });
  }
  // Before the OpenAPI plugin's own hook reads the route: the document lists every status the
  // plumbing may answer, not only those the route's handler raises.
  const routeMethods = new RouteMethods();
  app.addHook('onRoute', (route) => {
    routeMethods.add(route.method, route.url);
    const added = plumbingResponses(route as DocumentedRoute);
    if (Object.keys(added).length > 0 && route.schema) route.schema.response = { ...added, ...(route.schema.response as object) };
  });
  // On the way to the 404 handler, before Fastify reads a body it would refuse for another reason.
  app.addHook('onRequest', async (request) => {
    if (!request.is404) return;
    const allowed = routeMethods.allowed(request.url.split('?', 1)[0] ?? '').join(', ');
    if (allowed === '') return;
    throw new Problem(kitProblems, 'method-not-allowed', `${request.method} is not allowed here; allowed: ${allowed}`, {
      headers: { allow: allowed },
    });
  });
  await app.register(swagger, {
    openapi: {
      info: { title: options.title, version: '1', description: options.description },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transformObject: (document) => ('openapiObject' in document ? placeLinks(document.openapiObject) : document.swaggerObject),
  });
  // Its page, scripts and styles are files on disk, found by path (beside the bundle in an image).
  const ui = swaggerUiDir();
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    baseDir: ui,
    logo: { type: 'image/svg+xml', content: readFileSync(join(ui, 'logo.svg')) },
  });
  await app.register(auth, { ...authSettings(options.jwt), publicPrefixes: ['/docs'] });
  const limits = options.rateLimit;
  await app.register(rateLimit, {
    redisUrl: limits.REDIS_URL,
    limits: { reads: limits.RATE_LIMIT_READS, writes: limits.RATE_LIMIT_WRITES, holds: limits.RATE_LIMIT_HOLDS },
    windowMs: limits.RATE_LIMIT_WINDOW_SECONDS * 1000,
    redisTimeoutMs: limits.RATE_LIMIT_REDIS_TIMEOUT_MS,
    fallbackMs: limits.RATE_LIMIT_FALLBACK_MS,
    syncMs: limits.RATE_LIMIT_SYNC_MS,
    registry: options.registry,
  });
}
