// `npm start`: the local platform. Starts every harness server (MariaDB primary + replica,
// Redis, moto for SQS and Route53, a Kubernetes control plane with a kwok node), installs the
// CRDs, runs the operator against the local cluster and applies the sample Reservation, then
// keeps everything up until Ctrl-C. Settings are printed and written as a file a shell can source.
import { join } from 'node:path';
import { kubeBinary } from './harness/go-tools.ts';
import { installHarness, selectedComponents, startHarness } from './harness/index.ts';
import { step } from './harness/log.ts';
import { repoRoot } from './harness/paths.ts';
import { freePort } from './harness/ports.ts';
import { run, type Server, startServer, waitUntil } from './harness/proc.ts';

const components = selectedComponents();
await installHarness(components, { helm: false });
const harness = await startHarness(components);
const env = harness.env;

let operatorLog: string | undefined;
let operator: Server | undefined;
let operatorAdmin: string | undefined;
if (env.KUBECONFIG) {
  const kubectl = (...args: string[]) => run(kubeBinary('kubectl'), args, { env: { ...process.env, KUBECONFIG: env.KUBECONFIG } });
  step('up', 'installing the CRDs');
  await kubectl('apply', '--server-side', '-f', join(repoRoot, 'crds'));
  await kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/reservations.platform.reservations.dev');
  await kubectl('create', 'namespace', 'reservations');
  // The Secrets the sample names, pointing at the harness's servers.
  const secrets: [string, string, string | undefined][] = [
    ['mysql-primary', 'url', env.MYSQL_PRIMARY_URL],
    ['mysql-replica', 'url', env.MYSQL_REPLICA_URL],
    ['redis', 'url', env.REDIS_URL],
    ['jwt', 'key', 'local-development-only-secret-0123456789'],
  ];
  for (const [name, key, value] of secrets) {
    await kubectl('create', 'secret', 'generic', name, '-n', 'reservations', `--from-literal=${key}=${value ?? 'unset'}`);
  }
  step('up', 'starting the operator');
  operatorLog = join(harness.dir, 'operator.log');
  const adminPort = await freePort();
  operatorAdmin = `http://127.0.0.1:${adminPort}`;
  operator = startServer('operator', process.execPath, [join(repoRoot, 'operator', 'src', 'main.ts')], {
    logFile: operatorLog,
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG, LEADER_ELECT: 'false', ADMIN_HOST: '127.0.0.1', ADMIN_PORT: String(adminPort) },
  });
  await waitUntil('operator ready', async () => (await fetch(`${operatorAdmin}/readyz`)).ok, { server: operator });
  await kubectl('apply', '-f', join(repoRoot, 'operator', 'samples', 'reservation.yaml'));
  step('up', 'waiting for the sample Reservation to be Ready');
  await kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', 'reservations', 'rsv/booking');
}

const envFile = join(harness.dir, 'harness.env');
console.log(`
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

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    await operator?.stop();
    await harness.stop();
    process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
