// `npm start`: the local platform. Starts every harness server (MariaDB primary + replica,
// Redis, moto for SQS and Route53, a Kubernetes control plane with a kwok node) and keeps
// them up until Ctrl-C; the settings are printed and written as a file a shell can source.
import { join } from 'node:path';
import { kubeBinDir } from './harness/go-tools.ts';
import { installHarness, selectedComponents, startHarness } from './harness/index.ts';

const components = selectedComponents();
await installHarness(components, { helm: false });
const harness = await startHarness(components);

const envFile = join(harness.dir, 'harness.env');
console.log(`
The local platform is up. From another shell:

  source ${envFile}
  export PATH=${kubeBinDir()}:$PATH    # kubectl for the local cluster
  kubectl get nodes

Settings:
${Object.entries(harness.env)
  .map(([k, v]) => `  ${k}=${v}`)
  .join('\n')}

Ctrl-C stops everything.`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    await harness.stop();
    process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
