import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ensureDebianTools, installDebianPackages } from './debian.ts';
import { elapsed, step } from './log.ts';
import { cachePath } from './paths.ts';
import { freePort } from './ports.ts';
import { run, startServer, waitUntil } from './proc.ts';

const COMPONENT = 'moto';
export const MOTO_VERSION = '5.2.5';

/** moto's server stands in for AWS SQS and Route53; it lives in a venv cached per version. */
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
  AWS_ENDPOINT_URL_SQS: string;
  AWS_ENDPOINT_URL_ROUTE_53: string;
  /** The event queue (FIFO: per-reservation order) and its dead-letter queue. */
  SQS_QUEUE_URL: string;
  SQS_DLQ_URL: string;
}

export const MAX_RECEIVE_COUNT = 5;

export async function startMoto(dir: string) {
  const port = await freePort();
  const server = startServer('moto', motoServerBinary(), ['-H', '127.0.0.1', '-p', String(port)], {
    logFile: join(dir, 'moto.log'),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('moto', async () => (await fetch(`${endpoint}/moto-api/`)).ok, { server });
  const base = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'harness',
    AWS_SECRET_ACCESS_KEY: 'harness',
    AWS_ENDPOINT_URL_SQS: endpoint,
    AWS_ENDPOINT_URL_ROUTE_53: endpoint,
  };
  const queues = await createQueueWithDlq(sqsClient(base), 'reservation-events.fifo');
  step(COMPONENT, `SQS and Route53 on ${endpoint}`);
  const env: AwsEnv = { ...base, SQS_QUEUE_URL: queues.queueUrl, SQS_DLQ_URL: queues.dlqUrl };
  return { env, servers: [server] };
}

export function sqsClient(env: Pick<AwsEnv, 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_ENDPOINT_URL_SQS'>) {
  return new SQSClient({
    region: env.AWS_REGION,
    endpoint: env.AWS_ENDPOINT_URL_SQS,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  });
}

/**
 * Creates `name` and `<name>-dlq` with a redrive policy: a message received
 * `maxReceiveCount` times without being deleted moves to the DLQ. FIFO-ness follows the name.
 */
export async function createQueueWithDlq(
  sqs: SQSClient,
  name: string,
  { maxReceiveCount = MAX_RECEIVE_COUNT, visibilityTimeoutSeconds = 30 } = {},
) {
  const fifo = name.endsWith('.fifo');
  const fifoAttributes: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
  const dlqName = fifo ? name.replace(/\.fifo$/, '-dlq.fifo') : `${name}-dlq`;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: fifoAttributes }));
  if (!dlq.QueueUrl) throw new Error(`CreateQueue ${dlqName} returned no URL`);
  const dlqAttributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        ...fifoAttributes,
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
          maxReceiveCount,
        }),
      },
    }),
  );
  if (!queue.QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
  return { queueUrl: queue.QueueUrl, dlqUrl: dlq.QueueUrl };
}
