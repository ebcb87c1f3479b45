// `npm start -- --single`: the one-cluster platform, for work on the services. Starts every
// harness server (MariaDB primary + replica, Redis, ElasticMQ for SQS, moto for Route53, a
// Kubernetes control plane with a kwok node, Prometheus), migrates the database and runs
// reservation-api (with its outbox relay), query-api and notifier against them, installs the
// CRDs, runs the operator against the local cluster and applies the sample Reservation, then
// keeps everything up until Ctrl-C. Settings are printed and written as a file a shell can source.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { installCrds } from '@reservations/operator/testing';
import {
  freePort,
  installHarness,
  kubeBinary,
  type PrometheusTarget,
  repoRoot,
  run,
  type Server,
  selectedComponents,
  startHarness,
  startServer,
  step,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import { prepareDatabase } from './database.ts';
import { BOOKING_SIGNING_KEYS, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, WEBHOOK_SECRET_KEYS } from './two-clusters.ts';
import { stopOnCtrlC } from './until-ctrl-c.ts';

export async function runSingleCluster(): Promise<void> {
  const components = selectedComponents();
  await installHarness(components, { helm: false });
  const harness = await startHarness(components);
  const env = harness.env;
  const processes: Server[] = [];

  /** Runs one of the repo's Node entry points as a server, its log in the run directory. */
  async function startNode(name: string, entry: string, extraEnv: Record<string, string>, readyUrl: string): Promise<Server> {
    const server = startServer(name, process.execPath, [join(repoRoot, entry)], {
      logFile: join(harness.dir, `${name}.log`),
      env: { ...process.env, ...env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...extraEnv },
    });
    processes.push(server);
    await waitUntil(name, async () => (await fetch(readyUrl)).ok, { server, timeoutMs: 60_000 });
    return server;
  }

  const services: string[] = [];
  const scraped: PrometheusTarget[] = [];
  if (env.MYSQL_PRIMARY_URL && env.MYSQL_REPLICA_URL && env.REDIS_URL) {
    step('up', "migrating the database and granting each service's account its tables");
    const dbUrls = await prepareDatabase(env);
    // The event pipeline needs the queue: without the sqs component the relay is off and no notifier runs.
    const pipeline = Boolean(env.SQS_QUEUE_URL);
    for (const name of ['reservation-api', 'query-api', ...(pipeline ? ['notifier' as const] : [])] as const) {
      const [port, adminPort] = [await freePort(), await freePort()];
      step('up', `starting ${name}`);
      await startNode(
        name,
        `services/${name}/src/server.ts`,
        {
          ...dbUrls(name),
          PORT: String(port),
          ADMIN_PORT: String(adminPort),
          JWT_SECRET,
          JWT_ISSUER,
          JWT_AUDIENCE,
          BOOKING_SIGNING_KEYS,
          WEBHOOK_SECRET_KEYS,
          SHUTDOWN_DELAY_MS: '0',
          ...(pipeline ? { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' } : { OUTBOX_RELAY: 'off' }),
        },
        `http://127.0.0.1:${adminPort}/readyz`,
      );
      services.push(`  ${name.padEnd(16)} http://127.0.0.1:${port}  (docs /docs, admin http://127.0.0.1:${adminPort}/metrics)`);
      // Labelled as the sample Reservation's pods would be, so the analysis's default PromQL finds them.
      scraped.push({ url: `http://127.0.0.1:${adminPort}/metrics`, labels: { namespace: 'reservations', pod: `booking-${name}-local-0` } });
    }
  }
  if (env.PROMETHEUS_TARGETS_DIR && scraped.length > 0) {
    writePrometheusTargets(env.PROMETHEUS_TARGETS_DIR, 'services', scraped);
    services.push(`  ${'prometheus'.padEnd(16)} ${env.PROMETHEUS_URL}  (scrapes the services every second)`);
  }

  let operatorLog: string | undefined;
  let operatorAdmin: string | undefined;
  if (env.KUBECONFIG) {
    const kubectl = (...args: string[]) => run(kubeBinary('kubectl'), args, { env: { ...process.env, KUBECONFIG: env.KUBECONFIG } });
    step('up', 'installing the CRDs');
    // As the two-cluster platform does: applied, then waited for until served (a `kubectl wait`
    // right after the apply can find no conditions yet, and fails).
    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG);
    await installCrds(kc);
    await kubectl('create', 'namespace', 'reservations');
    // The Secrets the sample names, pointing at the harness's servers.
    const secrets: [string, string, string | undefined][] = [
      ['mysql-primary', 'url', env.MYSQL_PRIMARY_URL],
      ['mysql-replica', 'url', env.MYSQL_REPLICA_URL],
      ['redis', 'url', env.REDIS_URL],
      ['jwt', 'key', JWT_SECRET],
      ['booking-signing', 'keys', BOOKING_SIGNING_KEYS],
      ['booking-webhook-secrets', 'keys', WEBHOOK_SECRET_KEYS],
    ];
    for (const [name, key, value] of secrets) {
      await kubectl('create', 'secret', 'generic', name, '-n', 'reservations', `--from-literal=${key}=${value ?? 'unset'}`);
    }
    step('up', 'starting the operator');
    operatorLog = join(harness.dir, 'operator.log');
    const adminPort = await freePort();
    operatorAdmin = `http://127.0.0.1:${adminPort}`;
    await startNode(
      'operator',
      'operator/src/main.ts',
      { LEADER_ELECT: 'false', ADMIN_HOST: '127.0.0.1', ADMIN_PORT: String(adminPort) },
      `${operatorAdmin}/readyz`,
    );
    await kubectl('apply', '-f', join(repoRoot, 'operator', 'samples', 'reservation.yaml'));
    step('up', 'waiting for the sample Reservation to be Ready');
    await kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', 'reservations', 'rsv/booking');
  }

  const envFile = join(harness.dir, 'harness.env');
  const servicesText = services.length
    ? `
The services:
${services.join('\n')}

  TOKEN=$(JWT_SECRET=${JWT_SECRET} JWT_ISSUER=${JWT_ISSUER} JWT_AUDIENCE=${JWT_AUDIENCE} npm run -s mint-token -w @reservations/reservation-api -- admin me)
  curl -H "authorization: Bearer $TOKEN" ${services[0]?.match(/http:\S+/)?.[0]}/docs/json
`
    : '';
  console.log(`${servicesText}
The local platform is up. From another shell:

  source ${envFile}
  export PATH=${join(kubeBinary('kubectl'), '..')}:$PATH    # kubectl for the local cluster
  kubectl get rsv,deploy,hpa -n reservations
  kubectl describe rsv booking -n reservations
${operatorLog ? `\nThe operator: metrics on ${operatorAdmin}/metrics, log in ${operatorLog}\n` : ''}
Settings:
${Object.entries(env)
  .map(([k, v]) => `  ${k}=${v}`)
  .join('\n')}

Ctrl-C stops everything.`);

  stopOnCtrlC(async () => {
    for (const server of processes.reverse()) await server.stop();
    await harness.stop();
  });
}
