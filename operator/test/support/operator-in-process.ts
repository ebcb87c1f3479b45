import { Route53Client } from '@aws-sdk/client-route-53';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startManager } from '../../src/manager.ts';
import { createRoute53Provider } from '../../src/traffic/route53/provider.ts';

/**
 * The operator in the test's own process (so a test can stop and start it at once), calling
 * Route53 at `route53` (the stand-in) through the provider as it ships: its own gate (2 requests/s,
 * burst 5, backoff with jitter on Throttling) and the SDK's retries off. A metrics registry of its
 * own, so it can be started again; `appId` puts the SDK's app id in its user agent, for the
 * stand-in's `calledBy`.
 */
export function startOperatorInProcess(o: {
  kc: KubeConfig;
  namespace: string;
  identity: string;
  route53: string;
  appId?: string;
  driftCheckMs?: number;
  pendingPollMs?: number;
}): ReturnType<typeof startManager> {
  return startManager({
    kc: o.kc,
    namespace: o.namespace,
    workers: 2,
    resyncMs: 60_000,
    identity: o.identity,
    logger: pino({ level: 'warn' }),
    registry: new Registry(),
    traffic: {
      provider: (gate) =>
        createRoute53Provider({
          client: new Route53Client({ endpoint: o.route53, maxAttempts: 1, ...(o.appId ? { userAgentAppId: o.appId } : {}) }),
          gate,
        }),
      ...(o.driftCheckMs !== undefined ? { driftCheckMs: o.driftCheckMs } : {}),
      ...(o.pendingPollMs !== undefined ? { pendingPollMs: o.pendingPollMs } : {}),
    },
  });
}
