import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';

/** A dependency the service needs to serve: resolves when usable, throws (or times out) when not. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
  /**
   * Reported in /readyz's body but not part of its status: a dependency the pod serves without
   * (Redis), whose loss must not take every pod out of every endpoint at once.
   */
  optional?: boolean;
}

export interface AdminServer {
  app: FastifyInstance;
  /** From now on /readyz answers 503, whatever the checks say: the process is leaving. */
  markShuttingDown(): void;
}

export interface AdminOptions {
  registry: Registry;
  checks: ReadinessCheck[];
  logger: FastifyBaseLogger;
  checkTimeoutMs?: number;
}

/**
 * The admin port, apart from the API so probes and scrapes never queue behind traffic:
 * `/healthz` (the process is alive), `/readyz` (every dependency the pod cannot serve without
 * answers and no shutdown has begun; optional ones are listed, not counted) and `/metrics` (Prometheus).
 */
export function createAdminServer({ registry, checks, logger, checkTimeoutMs = 1000 }: AdminOptions): AdminServer {
  // Probes and scrapes every few seconds would drown the request log.
  const app = Fastify({
    loggerInstance: logger.child({ server: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
  });
  let shuttingDown = false;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (shuttingDown) return reply.code(503).send({ status: 'shutting-down' });
    const results = await Promise.all(
      checks.map(async ({ name, check, optional = false }) => {
        try {
          await withTimeout(check(), checkTimeoutMs);
          return [name, 'ok', optional] as const;
        } catch (err) {
          return [name, err instanceof Error ? err.message : String(err), optional] as const;
        }
      }),
    );
    const ready = results.every(([, result, optional]) => optional || result === 'ok');
    const degraded = results.some(([, result]) => result !== 'ok');
    return reply.code(ready ? 200 : 503).send({
      status: ready ? (degraded ? 'degraded' : 'ok') : 'unavailable',
      checks: Object.fromEntries(results.map(([n, r]) => [n, r])),
    });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  return {
    app,
    markShuttingDown: () => {
      shuttingDown = true;
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
