// The operator's process: configuration, leader election, the manager, the admin port.
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { createAdminServer } from '@reservations/service-kit/admin';
import { loadConfigOrExit } from '@reservations/service-kit/config';
import { createRegistry } from '@reservations/service-kit/metrics';
import { pino } from 'pino';
import { Type } from 'typebox';
import { createKubeClient } from './kube/client.ts';
import { createLeaderElector, LEASE_NAME } from './leader-election.ts';
import { startManager } from './manager.ts';
import { DEFAULT_MAX_CONNECTIONS } from './reconcile/connection-budget.ts';
import { DEFAULT_ROUTE53_TIMEOUTS } from './traffic/route53/provider.ts';
import { DEFAULT_ROUTE53_RATE } from './traffic/route53/throttle.ts';

const config = loadConfigOrExit(
  'reservation-operator',
  Type.Object({
    KUBECONFIG: Type.Optional(Type.String({ minLength: 1, description: 'kubeconfig file; in-cluster credentials when unset' })),
    WATCH_NAMESPACE: Type.Optional(
      Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'watch only this namespace; all when unset' }),
    ),
    ADMIN_HOST: Type.String({ default: '0.0.0.0', description: 'address of the admin port' }),
    ADMIN_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8081, description: 'admin port: /healthz, /readyz, /metrics' }),
    LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      default: 'info',
      description: 'pino log level',
    }),
    WORKERS: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'Reservations reconciled at once' }),
    RESYNC_SECONDS: Type.Integer({
      minimum: 10,
      default: 600,
      description: 'how often every Reservation is reconciled even without a change',
    }),
    LEADER_ELECT: Type.Boolean({ default: true, description: 'run only while holding the leader Lease' }),
    LEADER_ELECTION_NAMESPACE: Type.String({ default: 'reservation-system', description: 'namespace of the leader Lease' }),
    POD_NAME: Type.String({ default: hostname(), description: 'this instance, as the Lease holder' }),
    TXT_OWNER_ID: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][-A-Za-z0-9_.:/]{0,252}$',
        description:
          "ExternalDNS owner id of the weighted records; default reservation-operator-<spec.traffic.cluster>-<start of kube-system's UID>",
      }),
    ),
    PROMETHEUS_ALLOWED_HOSTS: Type.String({
      default: '',
      pattern: '^([a-z0-9.-]+(,[a-z0-9.-]+)*)?$',
      description: "comma-separated hosts a Reservation's Prometheus URLs may name (analysis, pre-scaling, drain); any when empty",
    }),
    DB_MAX_CONNECTIONS: Type.Integer({
      minimum: 1,
      default: DEFAULT_MAX_CONNECTIONS,
      description:
        "the database's max_connections, for each Reservation's ConnectionBudget condition (default: Aurora MySQL's on db.r6g.large)",
    }),
    TXT_PREFIX: Type.String({ default: '', description: "ExternalDNS --txt-prefix of the zone's ownership TXT records, if it uses one" }),
    TXT_SUFFIX: Type.String({ default: '', description: "ExternalDNS --txt-suffix of the zone's ownership TXT records, if it uses one" }),
    ROUTE53_CONNECTION_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      default: DEFAULT_ROUTE53_TIMEOUTS.connectionTimeoutMs,
      description: 'longest wait for a connection to Route53',
    }),
    ROUTE53_REQUEST_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      default: DEFAULT_ROUTE53_TIMEOUTS.requestTimeoutMs,
      description: 'longest a Route53 request may take, answer included',
    }),
    // Route53 allows 5 requests/s per AWS account, shared by every tool of the account.
    ROUTE53_REQUESTS_PER_SECOND: Type.Number({
      exclusiveMinimum: 0,
      maximum: 5,
      default: DEFAULT_ROUTE53_RATE.qps,
      description: "this operator's sustained Route53 calls per second: its share of the account's 5",
    }),
    ROUTE53_BURST: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: DEFAULT_ROUTE53_RATE.burst,
      description: 'Route53 calls this operator may make at once before the rate applies',
    }),
  }),
);

if (config.TXT_PREFIX && config.TXT_SUFFIX) {
  // As ExternalDNS: the two are mutually exclusive.
  process.stderr.write('reservation-operator: TXT_PREFIX and TXT_SUFFIX are mutually exclusive; set at most one\n');
  process.exit(1);
}

const kc = new KubeConfig();
if (config.KUBECONFIG) kc.loadFromFile(config.KUBECONFIG);
else kc.loadFromCluster();

const logger = pino({ level: config.LOG_LEVEL, base: { service: 'reservation-operator' } });
const registry = createRegistry('reservation-operator');
let manager: Awaited<ReturnType<typeof startManager>> | undefined;
const admin = createAdminServer({
  registry,
  logger,
  checks: [
    {
      // A standby is ready too: it is healthy, just not leading.
      name: 'caches',
      check: async () => {
        if (manager && !manager.synced) throw new Error('informer caches not synced');
      },
    },
  ],
});
await admin.app.listen({ host: config.ADMIN_HOST, port: config.ADMIN_PORT });

const elector = config.LEADER_ELECT
  ? createLeaderElector({
      client: createKubeClient(kc),
      namespace: config.LEADER_ELECTION_NAMESPACE,
      name: LEASE_NAME,
      identity: config.POD_NAME,
      logger,
    })
  : undefined;

async function lead() {
  manager = await startManager({
    kc,
    namespace: config.WATCH_NAMESPACE,
    workers: config.WORKERS,
    resyncMs: config.RESYNC_SECONDS * 1000,
    identity: config.POD_NAME,
    logger,
    registry,
    connectionLimit: config.DB_MAX_CONNECTIONS,
    ...(config.PROMETHEUS_ALLOWED_HOSTS ? { prometheusAllowedHosts: config.PROMETHEUS_ALLOWED_HOSTS.split(',') } : {}),
    traffic: {
      ...(config.TXT_OWNER_ID ? { ownerId: config.TXT_OWNER_ID } : {}),
      affix: { prefix: config.TXT_PREFIX, suffix: config.TXT_SUFFIX },
      route53Timeouts: { connectionTimeoutMs: config.ROUTE53_CONNECTION_TIMEOUT_MS, requestTimeoutMs: config.ROUTE53_REQUEST_TIMEOUT_MS },
      route53Rate: { qps: config.ROUTE53_REQUESTS_PER_SECOND, burst: config.ROUTE53_BURST },
    },
  });
  manager.metrics.leader.set({ name: 'reservation-operator' }, 1);
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  admin.markShuttingDown();
  await manager?.stop();
  await elector?.release();
  await admin.app.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

if (elector) {
  void elector.run(lead, () => {
    // Another instance may lead now: stop at once rather than reconcile alongside it.
    process.exit(1);
  });
} else {
  await lead();
}
