import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools, installDebianPackages } from './debian.ts';
import { HARNESS_AWS } from './elasticmq.ts';
import { elapsed, step } from './log.ts';
import { cachePath } from './paths.ts';
import { freePort } from './ports.ts';
import { run, startServer } from './proc.ts';

const COMPONENT = 'moto';
export const MOTO_VERSION = '5.2.5';

/**
 * moto's server stands in for Route53 (SQS is ElasticMQ's: elasticmq.ts; moto's own SQS takes
 * ~11 ms of CPU per message); it lives in a venv cached per version.
 */
function venvDir(): string {
  return cachePath('moto', MOTO_VERSION);
}

function motoServerBinary(): string {
  return join(venvDir(), 'bin', 'moto_server');
}

export async function installMoto(): Promise<void> {
  if (existsSync(motoServerBinary())) return;
  await ensureDebianTools(COMPONENT, [{ binary: 'python3', pkg: 'python3' }]);
  const started = Date.now();
  const dir = venvDir();
  step(COMPONENT, `creating a virtualenv in ${dir}`);
  try {
    await run('python3', ['-m', 'venv', '--clear', dir]);
  } catch {
    // Debian's python3 ships venv separately.
    await installDebianPackages(COMPONENT, ['python3-venv'], 'python3 has no venv module');
    await run('python3', ['-m', 'venv', '--clear', dir]);
  }
  step(COMPONENT, `pip install moto[server]==${MOTO_VERSION}`);
  await run(join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`], {
    progress: { component: COMPONENT, what: 'installing moto' },
  });
  step(COMPONENT, `installed in ${elapsed(started)}`);
}

export interface AwsEnv {
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_ENDPOINT_URL_ROUTE_53: string;
}

export async function startMoto(dir: string) {
  const port = await freePort();
  const server = startServer('moto', motoServerBinary(), ['-H', '127.0.0.1', '-p', String(port)], {
    logFile: join(dir, 'moto.log'),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('moto', async () => (await fetch(`${endpoint}/moto-api/`)).ok, { server, timeoutMs: 60_000 });
  step(COMPONENT, `Route53 on ${endpoint}`);
  const env: AwsEnv = { ...HARNESS_AWS, AWS_ENDPOINT_URL_ROUTE_53: endpoint };
  return { env, servers: [server] };
}
