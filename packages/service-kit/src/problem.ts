import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type TProperties, Type } from 'typebox';
import { mysqlOverload } from './clients/mysql.ts';

/** One entry of a package's error registry: the HTTP status and the title every instance shares. */
export interface ProblemSpec {
  status: number;
  title: string;
}

export interface FieldError {
  /** JSON Pointer-ish location of the offending value: `body/startsAt`, `querystring/limit`. */
  field: string;
  message: string;
}

/** The registry of a package: `code → {status, title}`; the problem `type` is `${base}${code}`. */
export type ProblemRegistry<C extends string = string> = { base: string; specs: Record<C, ProblemSpec> };

export function defineProblems<C extends string>(base: string, specs: Record<C, ProblemSpec>): ProblemRegistry<C> {
  return { base, specs };
}

/**
 * An RFC 9457 problem an application throws; the error handler renders it as
 * `application/problem+json`. `extensions` become top-level members (RFC 9457 §3.2).
 */
export class Problem extends Error {
  override name = 'Problem';
  readonly type: string;
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    registry: ProblemRegistry,
    code: string,
    detail: string,
    { extensions = {}, headers = {} }: { extensions?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    const spec = registry.specs[code];
    if (!spec) throw new Error(`problem code ${code} is not in the registry`);
    this.code = code;
    this.type = `${registry.base}${code}`;
    this.status = spec.status;
    this.title = spec.title;
    this.detail = detail;
    this.extensions = extensions;
    this.headers = headers;
  }

  toJSON() {
    return { type: this.type, title: this.title, status: this.status, detail: this.detail, ...this.extensions };
  }
}

/** The media type of every error (RFC 9457 §3), as the OpenAPI documents declare it. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
export const PROBLEM_CONTENT_TYPE = `${PROBLEM_MEDIA_TYPE}; charset=utf-8`;

/** The problems the plumbing itself raises; a service's own registry adds its domain codes. */
export const KIT_PROBLEM_BASE = 'https://reservations.dev/problems/';
export const kitProblems = defineProblems(KIT_PROBLEM_BASE, {
  'validation-failed': { status: 400, title: 'The request is not valid' },
  'malformed-json': { status: 400, title: 'The body is not valid JSON' },
  // Issue 3 lists oversized bodies among the bad input that is a 400 (not RFC 9110's 413).
  'body-too-large': { status: 413, title: 'The body is larger than this API accepts' },
  'unsupported-media-type': { status: 415, title: 'The body must be application/json' },
  unauthorized: { status: 401, title: 'A valid bearer token is required' },
  forbidden: { status: 403, title: 'Your role may not do this' },
  'rate-limited': { status: 429, title: 'Too many requests; retry after the time given' },
  'not-found': { status: 404, title: 'No such resource' },
  'malformed-url': { status: 400, title: 'The URL is not valid (a malformed percent-encoding)' },
  'uri-too-long': { status: 414, title: 'A path segment is longer than this API reads' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  overloaded: { status: 503, title: 'The service is overloaded; retry later' },
  'token-keys-unavailable': { status: 503, title: "The token issuer's keys cannot be fetched; retry later" },
  internal: { status: 500, title: 'Internal error' },
});

/** Renders a problem; the body is a string so it can be stored (idempotency) and replayed as is. */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem.toJSON()));
}

/** Ajv's errors → one entry per offending field, so a client can fix all of them at once. */
export function fieldErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((v) => {
    const missing = v.keyword === 'required' ? `/${String((v.params as { missingProperty?: string }).missingProperty)}` : '';
    const extra =
      v.keyword === 'additionalProperties' ? `/${String((v.params as { additionalProperty?: string }).additionalProperty)}` : '';
    const path = `${v.instancePath}${missing}${extra}`;
    const message = v.keyword === 'additionalProperties' ? 'is not a known field' : (v.message ?? 'is invalid');
    return { field: `${context}${path}`, message };
  });
}

/** Maps every error Fastify or the app raises to problem+json; unknown errors become an opaque 500. */
export const problemHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof Problem) return sendProblem(reply, error);
      if (error.validation) {
        const errors = fieldErrors(error);
        return sendProblem(
          reply,
          new Problem(kitProblems, 'validation-failed', errors.map((e) => `${e.field} ${e.message}`).join('; '), {
            extensions: { errors },
          }),
        );
      }
      switch (error.code) {
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
        case 'FST_ERR_CTP_EMPTY_JSON_BODY':
          return sendProblem(reply, new Problem(kitProblems, 'malformed-json', error.message));
        case 'FST_ERR_CTP_BODY_TOO_LARGE': {
          const limit = request.routeOptions.bodyLimit;
          return sendProblem(
            reply,
            new Problem(kitProblems, 'body-too-large', `the body is larger than the ${limit} bytes this API accepts`, {
              extensions: { limitBytes: limit, errors: [{ field: 'body', message: `must be at most ${limit} bytes` }] },
            }),
          );
        }
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return sendProblem(reply, new Problem(kitProblems, 'unsupported-media-type', error.message));
      }
      const overload = mysqlOverload(error);
      if (overload) {
        request.log.warn({ err: error }, overload);
        return sendProblem(reply, new Problem(kitProblems, 'overloaded', `${overload}; retry later`, { headers: { 'retry-after': '1' } }));
      }
      if (error.statusCode === 503) {
        return sendProblem(reply, new Problem(kitProblems, 'overloaded', error.message, { headers: { 'retry-after': '1' } }));
      }
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        request.log.info({ err: error }, 'client error');
        return reply
          .code(error.statusCode)
          .type(PROBLEM_CONTENT_TYPE)
          .send(JSON.stringify({ type: 'about:blank', title: error.message, status: error.statusCode, detail: error.message }));
      }
      request.log.error({ err: error }, 'unhandled error');
      return sendProblem(reply, new Problem(kitProblems, 'internal', 'The server failed to handle this request'));
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, new Problem(kitProblems, 'not-found', `${request.method} ${request.url} matches no route`)),
    );
  },
  { name: 'problem-handler', fastify: '5.x' },
);

/** The RFC 9457 body of every problem, with whatever `extra` members a service adds. */
export function problemSchema(extra: TProperties = {}) {
  return Type.Object(
    {
      type: Type.String({ format: 'uri' }),
      title: Type.String(),
      status: Type.Integer(),
      detail: Type.String(),
      errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
      ...extra,
    },
    { additionalProperties: true },
  );
}

/**
 * A problem response for a route's schema (and so the OpenAPI document): served as
 * `application/problem+json`, RFC 9457 fields, `errors` listing offending fields, and whatever
 * `extra` members a service adds.
 */
export function problemResponse(description: string, extra: TProperties = {}) {
  return { description, content: { [PROBLEM_MEDIA_TYPE]: { schema: problemSchema(extra) } } };
}

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or error handler runs
 * (a malformed percent-encoding, a path segment past `maxParamLength`), as problems too, not in
 * Fastify's own JSON shape.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const path = (error.message.match(/^'([^']*)'/)?.[1] ?? '').slice(0, 200);
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendProblem(reply, new Problem(kitProblems, 'uri-too-long', `a path segment of ${path}… is longer than this API reads`));
  } else if (error.code === 'FST_ERR_BAD_URL') {
    sendProblem(reply, new Problem(kitProblems, 'malformed-url', `${path} is not a valid URL path (a malformed percent-encoding)`));
  } else {
    sendProblem(reply, new Problem(kitProblems, 'internal', 'The server failed to handle this request'));
  }
}
