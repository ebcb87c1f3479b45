import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { frameworkErrors, problemResponse } from './problem.ts';

/**
 * The longest raw (percent-encoded) path segment the router reads; longer is a 414 problem.
 * Past every documented `maxLength` of a path parameter even fully encoded (128 characters of 4
 * UTF-8 bytes each are 1,536), so what the documents bound is refused by validation, a 400
 * naming the parameter, and never by the router first (find-my-way's default is 100).
 */
export const MAX_PARAM_LENGTH = 2048;

/** Fastify's options every API of the platform is built with: its router's refusals are problems too. */
export const apiServerOptions = {
  routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  frameworkErrors: frameworkErrors as (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void,
} satisfies Partial<FastifyServerOptions>;

/** The part of a route's options that says what it reads; what the plumbing may answer follows from it. */
export interface DocumentedRoute {
  method: string | string[];
  url: string;
  schema?: {
    hide?: boolean;
    security?: unknown[];
    params?: unknown;
    querystring?: unknown;
    headers?: unknown;
    body?: unknown;
    response?: Record<string, unknown>;
  };
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The responses the shared plumbing may give on this route whatever its handler does, for its
 * OpenAPI document: validation (400), the bearer token (401) and the rate limit (429) on secured
 * routes, a path segment past the router's limit (414), a body over the service's limit (413) or
 * in another media type (415: Fastify refuses both before validation), load shedding and an
 * unreachable token issuer (503). A route's own description of a status wins; this only fills in
 * what it left out.
 */
export function plumbingResponses(route: DocumentedRoute): Record<string, ReturnType<typeof problemResponse>> {
  const schema = route.schema;
  if (!schema || schema.hide) return {};
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const secured = (schema.security?.length ?? 0) > 0;
  const responses: Record<string, ReturnType<typeof problemResponse>> = {};
  if (schema.params || schema.querystring || schema.headers || schema.body) {
    responses[400] = problemResponse('invalid request: every offending field is listed in `errors`');
  }
  if (secured) responses[401] = problemResponse('missing, malformed or expired bearer token');
  if (route.url.includes(':')) responses[414] = problemResponse(`a path segment longer than ${MAX_PARAM_LENGTH} characters`);
  if (methods.some((m) => BODY_METHODS.has(m))) {
    responses[413] = problemResponse('a body larger than the service accepts (`limitBytes` says how large)');
    responses[415] = problemResponse('a body that is not application/json');
  }
  if (secured) {
    responses[429] = problemResponse(
      'rate limited: more requests of this class than the principal may make in the window; retry after the Retry-After delay',
    );
  }
  responses[503] = problemResponse('overloaded, or the token issuer’s keys cannot be fetched: retry after the Retry-After delay');
  const declared = schema.response ?? {};
  return Object.fromEntries(Object.entries(responses).filter(([status]) => !(status in declared)));
}

/** An OpenAPI link (3.0 §4.7.20): how a response's values feed another operation's parameters. */
export interface OpenApiLink {
  operationId: string;
  parameters?: Record<string, string>;
  requestBody?: unknown;
  description?: string;
}

/** A route schema's links, per response status, under the `x-links` key the OpenAPI plugin copies to the operation. */
export type RouteLinks = Record<number, Record<string, OpenApiLink>>;

type Operation = { 'x-links'?: RouteLinks; responses?: Record<string, { links?: Record<string, OpenApiLink> }> };

/**
 * Moves each operation's `x-links` into its responses' `links`, where OpenAPI keeps them:
 * @fastify/swagger builds responses from the route's schemas and has no place for links.
 */
export function placeLinks<T extends { paths?: object }>(document: T): T {
  for (const item of Object.values(document.paths ?? {}) as Record<string, unknown>[]) {
    for (const value of Object.values(item ?? {})) {
      const operation = value as Operation;
      const links = operation['x-links'];
      if (!links) continue;
      delete operation['x-links'];
      for (const [status, named] of Object.entries(links)) {
        const response = operation.responses?.[status];
        if (!response) throw new Error(`links for status ${status}, which the operation does not document`);
        response.links = { ...response.links, ...named };
      }
    }
  }
  return document;
}

/**
 * The methods each route path answers, to tell "no such resource" (404) from "not this method"
 * (405 with Allow, RFC 9110 §15.5.6): Fastify answers both 404.
 */
export class RouteMethods {
  private readonly paths = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(method: string | string[], url: string): void {
    let entry = this.paths.get(url);
    if (!entry) {
      // Path parameters (`:id`) match one segment, as in Fastify's router.
      const literals = url.split(/:[^/]+/).map(escapeRegExp);
      const pattern = new RegExp(`^${literals.join('[^/]+')}$`);
      entry = { pattern, methods: new Set() };
      this.paths.set(url, entry);
    }
    for (const m of Array.isArray(method) ? method : [method]) entry.methods.add(m);
  }

  /** The methods some route answers at this path (no query string), sorted; empty when none does. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: those } of this.paths.values()) {
      if (pattern.test(path)) for (const m of those) methods.add(m);
    }
    return [...methods].sort();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
