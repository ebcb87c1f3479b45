import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Static, TObject } from 'typebox';
import { type AdminServer, createAdminServer, type ReadinessCheck } from './admin-server.ts';
import { type BaseConfig, ConfigError, loadConfigOrExit } from './config.ts';
import { closeConnectionsBy, watchDrainSwitch } from './drain-switch.ts';
import { createRegistry } from './metrics.ts';

/**
 * A reason a service must not start (a schema older than it needs, say): `startService` prints its
 * message as one line and exits 1, like a configuration error, instead of a stack trace.
 */
export class StartupError extends Error {}

/**
 * Serves the API (not yet listening: this adds a hook) and the admin port until SIGTERM or
 * SIGINT, then shuts down gracefully:
 * /readyz turns 503 at once, the API keeps serving for SHUTDOWN_DELAY_MS (so Kubernetes
 * endpoints and load balancers stop routing here first), then stops accepting, lets in-flight
 * requests finish (Fastify answers 503 + `Connection: close` to new requests on kept-alive
 * connections), runs the API's onClose hooks (which close pools), and exits. Past
 * SHUTDOWN_TIMEOUT_MS it exits anyway, with status 1.
 */
export async function runService({ config, api, admin }: { config: BaseConfig; api: FastifyInstance; admin: AdminServer }) {
  let draining = false;
  // Responses sent once draining has begun tell keep-alive clients to reconnect, so each
  // connection closes after its in-flight request instead of idling until the keep-alive
  // timeout and holding the shutdown up. The same while a cutover drains this cluster, and for
  // the share of connections a cutover step moves away from it (the rebalance).
  const drainSwitch = watchDrainSwitch(config.DRAIN_FILE);
  closeConnectionsBy(api, () => (draining ? { kind: 'all' } : drainSwitch.state));
  api.addHook('onClose', async () => drainSwitch.stop());
  await api.listen({ host: config.HOST, port: config.PORT });
  await admin.app.listen({ host: config.HOST, port: config.ADMIN_PORT });
  closeWithGrace({ delay: config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS, logger: api.log }, async ({ signal, err }) => {
    if (err) api.log.error({ err }, 'shutting down after an uncaught error');
    else api.log.info({ signal, delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down: readiness is 503, draining');
    admin.markShuttingDown();
    draining = true;
    await sleep(config.SHUTDOWN_DELAY_MS);
    await api.close();
    await admin.app.close();
    api.log.info('shut down cleanly');
  });
}

/**
 * A service's whole server.ts: configuration, the app, the admin port with `checks`, and the
 * process lifecycle. A setting that is missing or wrong, or a database schema older than the
 * service needs, ends the process with one line naming it.
 */
export async function startService<S extends TObject, A extends FastifyInstance>(
  name: string,
  schema: S,
  build: (config: Static<S>, registry: Registry) => Promise<A>,
  checks: (api: A) => ReadinessCheck[],
): Promise<void> {
  const config = loadConfigOrExit(name, schema);
  const registry = createRegistry(name);
  const api = await build(config, registry).catch((err: unknown) => {
    if (!(err instanceof ConfigError || err instanceof StartupError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(1);
  });
  const admin = createAdminServer({ registry, checks: checks(api), logger: api.log });
  await runService({ config: config as BaseConfig, api, admin });
}
