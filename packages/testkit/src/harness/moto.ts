import { join } from 'node:path';
import { waitUntil } from '../poll.ts';
import { HARNESS_AWS } from './elasticmq.ts';
import { step } from './log.ts';
import { freePort } from './ports.ts';
import { startServer } from './proc.ts';
import { installPythonTool, type PythonTool, pythonToolBinary } from './python-tools.ts';

const COMPONENT = 'moto';
export const MOTO_VERSION = '5.2.5';

/**
 * moto's server stands in for Route53 (SQS is ElasticMQ's: elasticmq.ts; moto's own SQS takes
 * ~11 ms of CPU per message); it lives in a venv cached per version.
 */
const MOTO: PythonTool = { component: COMPONENT, requirement: 'moto[server]', version: MOTO_VERSION, script: 'moto_server' };

export const installMoto = (): Promise<void> => installPythonTool(MOTO);

export interface AwsEnv {
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_ENDPOINT_URL_ROUTE_53: string;
}

export async function startMoto(dir: string) {
  const port = await freePort();
  const server = startServer('moto', pythonToolBinary(MOTO), ['-H', '127.0.0.1', '-p', String(port)], {
    logFile: join(dir, 'moto.log'),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('moto', async () => (await fetch(`${endpoint}/moto-api/`)).ok, { server, timeoutMs: 60_000 });
  step(COMPONENT, `Route53 on ${endpoint}`);
  const env: AwsEnv = { ...HARNESS_AWS, AWS_ENDPOINT_URL_ROUTE_53: endpoint };
  return { env, servers: [server] };
}
