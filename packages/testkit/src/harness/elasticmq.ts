import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools } from './debian.ts';
import { elapsed, step } from './log.ts';
import { cachePath } from './paths.ts';
import { freePort } from './ports.ts';
import { run, startServer } from './proc.ts';

const COMPONENT = 'elasticmq';
export const ELASTICMQ_VERSION = '1.6.11';

/**
 * ElasticMQ (Scala, on the JVM) is the harness's SQS: it speaks SQS's JSON and query protocols,
 * keeps FIFO message groups in order (a group's next message waits while one is in flight),
 * deduplicates on MessageDeduplicationId and moves a message to the DLQ after maxReceiveCount,
 * and it is fast (moto accepts ~90 messages/s on 2 cores: docs/benchmarks.md). Its jars come
 * from Maven Central through Maven, into a directory cached per version.
 */
function libDir(): string {
  return join(cachePath('elasticmq', ELASTICMQ_VERSION), 'lib');
}

// elasticmq-common-test is a test helper the server's POM lists but the registry does not serve.
const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>reservation-platform.harness</groupId>
  <artifactId>elasticmq</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.elasticmq</groupId>
      <artifactId>elasticmq-server_2.13</artifactId>
      <version>${ELASTICMQ_VERSION}</version>
      <exclusions>
        <exclusion><groupId>org.elasticmq</groupId><artifactId>elasticmq-common-test_2.13</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
`;

export async function installElasticMq(): Promise<void> {
  if (existsSync(libDir())) return;
  await ensureDebianTools(COMPONENT, [
    { binary: 'java', pkg: 'openjdk-17-jre-headless' },
    { binary: 'mvn', pkg: 'maven' },
  ]);
  const started = Date.now();
  const dir = cachePath('elasticmq', ELASTICMQ_VERSION);
  writeFileSync(join(dir, 'pom.xml'), POM);
  // Into a scratch directory first, so an interrupted download is never taken for an install.
  const partial = join(dir, 'lib.partial');
  rmSync(partial, { recursive: true, force: true });
  step(COMPONENT, `mvn dependency:copy-dependencies (elasticmq-server ${ELASTICMQ_VERSION}) into ${dir}`);
  await run('mvn', ['-B', '-q', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${partial}`], {
    progress: { component: COMPONENT, what: 'downloading ElasticMQ' },
  });
  renameSync(partial, libDir());
  step(COMPONENT, `installed in ${elapsed(started)}`);
}

export interface SqsEnv {
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_ENDPOINT_URL_SQS: string;
  /** The event queue (FIFO: per-reservation order) and its dead-letter queue. */
  SQS_QUEUE_URL: string;
  SQS_DLQ_URL: string;
}

/** The region and credentials the harness's AWS stand-ins answer to (any value works; the SDK needs some). */
export const HARNESS_AWS = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'harness', AWS_SECRET_ACCESS_KEY: 'harness' } as const;

export const MAX_RECEIVE_COUNT = 5;

/** ElasticMQ's settings: the SQS REST API on `port` only, queue URLs and ARNs as SQS writes them. */
export function elasticMqConfig(port: number, region = HARNESS_AWS.AWS_REGION): string {
  return `include classpath("application.conf")
node-address { protocol = http, host = 127.0.0.1, port = ${port}, context-path = "" }
rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }
rest-stats { enabled = false }
aws { region = ${region}, accountId = "000000000000" }
`;
}

/** Starts ElasticMQ on a free loopback port and creates the event queue with its DLQ. */
export async function startElasticMq(dir: string) {
  const port = await freePort();
  const config = join(dir, 'elasticmq.conf');
  writeFileSync(config, elasticMqConfig(port));
  // A small heap and the serial collector: a test queue needs little, and no GC threads compete for the 2 cores.
  const server = startServer(
    'elasticmq',
    'java',
    ['-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', `-Dconfig.file=${config}`, '-cp', `${libDir()}/*`, 'org.elasticmq.server.Main'],
    { logFile: join(dir, 'elasticmq.log'), cwd: dir },
  );
  const base = { ...HARNESS_AWS, AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` };
  const sqs = sqsClient(base);
  try {
    await waitUntil('elasticmq', async () => (await sqs.send(new ListQueuesCommand({}))).$metadata.httpStatusCode === 200, {
      server,
      timeoutMs: 60_000,
    });
    const queues = await createQueueWithDlq(sqs, 'reservation-events.fifo');
    step(COMPONENT, `SQS on ${base.AWS_ENDPOINT_URL_SQS}`);
    const env: SqsEnv = { ...base, SQS_QUEUE_URL: queues.queueUrl, SQS_DLQ_URL: queues.dlqUrl };
    return { env, servers: [server] };
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    sqs.destroy();
  }
}

export function sqsClient(env: Pick<SqsEnv, 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_ENDPOINT_URL_SQS'>) {
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
