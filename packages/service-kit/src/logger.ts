import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { LoggerOptions } from 'pino';

/** Paths pino replaces before a line is written: credentials never reach the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
];

/** pino options for a service's Fastify logger: JSON lines, service name, redaction. */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
}

/** Which finished requests get a log line: `errors` (4xx, 5xx, slow) or `all` (one line each). */
export type RequestLogPolicy = { mode: 'errors' | 'all'; slowMs: number };

export type RequestLogLevel = 'error' | 'warn' | 'info';

/**
 * The level of a finished request's line, or undefined for none. Under `errors` a fast success
 * gets no line: the RED metrics count it, and at the read side's rates its line was the largest
 * single CPU cost of a cached GET and of the log bill (docs/booking.md, Logs).
 */
export function requestLogLevel(
  policy: RequestLogPolicy,
  request: { statusCode: number; responseTimeMs: number; errored: boolean; streamed?: boolean },
): RequestLogLevel | undefined {
  if (request.errored) return 'error';
  // A stream (SSE) lasts as long as its client stays: its length is not slowness.
  const slow = !request.streamed && request.responseTimeMs >= policy.slowMs;
  if (request.statusCode >= 500 || slow) return 'warn';
  if (request.statusCode >= 400 || policy.mode === 'all') return 'info';
  return undefined;
}

/**
 * At most one log line per request, when it ends, chosen by `requestLogLevel` (a thrown error also
 * has the error handler's own line): the request (method,
 * URL, client), its status and its duration. Fastify's default is two (`incoming request`, then
 * `request completed`) for every request, and the second carries all the first did. Errors
 * outside a request's end (stream, serialiser, 404 route) log as Fastify does.
 */
export class OneLinePerRequest extends LogController {
  readonly #policy: RequestLogPolicy;

  constructor(policy: RequestLogPolicy) {
    super();
    this.#policy = policy;
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const responseTime = reply.elapsedTime;
    // Looked at only when the request would count as slow.
    const streamed =
      responseTime >= this.#policy.slowMs && String(reply.raw.getHeader('content-type') ?? '').startsWith('text/event-stream');
    const level = requestLogLevel(this.#policy, { statusCode: reply.statusCode, responseTimeMs: responseTime, errored: !!error, streamed });
    if (!level) return;
    const line = { req: request, res: reply, responseTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log[level](line, level === 'warn' && reply.statusCode < 500 ? 'slow request' : 'request completed');
  }
}
