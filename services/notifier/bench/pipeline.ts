// The event pipeline's benchmark: `npm run bench -w @reservations/notifier`.
// Starts its own MariaDB, Redis and ElasticMQ (the test harness), runs reservation-api (relay in
// process) and the notifier as their own processes from their server.ts, and a webhook receiver
// here. Books at a fixed rate (BENCH_RATE per second for BENCH_SECONDS, open loop: a request
// goes out on schedule whether or not the previous ones answered) and measures, per booking,
// the time from its 201 to the receipt of its signed webhook, and each event's outbox lag
// (commit to SendMessageBatch, from the outbox rows). The baseline, measured in the same run on
// the same SQS server, is the bare SQS hop the pipeline cannot beat: SendMessage to a long-polling
// ReceiveMessage. `BENCH_SQS=moto` or `BENCH_SQS=local-aws-sqs` runs the same against moto or
// local-aws-sqs instead of ElasticMQ (moto accepts ~90 messages/s on 2 cores: docs/benchmarks.md).
// Not a test: figures depend on the machine.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { migrateToLatest } from '@reservations/database';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import {
  type Component,
  cpuSeconds,
  createQueueWithDlq,
  freePort,
  HARNESS_AWS,
  installHarness,
  quantile,
  repoRoot,
  type Server,
  sqsClient,
  startHarness,
  startServer,
  waitUntil,
} from '@reservations/testkit';
import mysql from 'mysql2/promise';
import { verificationFailure } from '../src/domain/signature.ts';

const RATE = Number(process.env.BENCH_RATE ?? 200);
/**
 * `elasticmq` (the harness's SQS, default), `moto` (the harness's Route53 stand-in, whose SQS takes
 * ~11 ms of CPU per message) or `local-aws-sqs` (fast, but no FIFO group locking: see local-sqs.ts).
 */
const SQS_SERVER = process.env.BENCH_SQS ?? 'elasticmq';
/** Messages pushed through a scratch queue before measuring, to warm a JVM's JIT (ElasticMQ only). */
const SQS_WARMUP = SQS_SERVER === 'elasticmq' ? 20_000 : 0;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
/** Seconds of uncounted bookings at RATE before the measured run. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 10);
const PROVIDERS = 20;
const RESOURCES = 100;
const TARGETS = { webhookP99Ms: 250, outboxLagP99Ms: 100 };
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';
const ISSUER = 'https://bench.idp.test/';
const AUDIENCE = 'reservations';
const sign = createTokenMinter({ issuer: ISSUER, audience: AUDIENCE, key: { secret: SECRET } });

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / 100;
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

const SQS_SERVERS = { elasticmq: 'sqs', moto: 'aws', 'local-aws-sqs': undefined } as const;
if (!(SQS_SERVER in SQS_SERVERS)) throw new Error(`BENCH_SQS=${SQS_SERVER}: use elasticmq, moto or local-aws-sqs`);
const sqsComponent = SQS_SERVERS[SQS_SERVER as keyof typeof SQS_SERVERS];
const components: Component[] = ['mysql', 'redis', ...(sqsComponent ? [sqsComponent] : [])];
await installHarness(components, { helm: false });
const harness = await startHarness(components);
const servers: Server[] = [];
try {
  const env = harness.env as Record<string, string>;
  // moto serves every AWS API it has on one endpoint (the harness starts it for Route53).
  if (SQS_SERVER === 'moto') env.AWS_ENDPOINT_URL_SQS = env.AWS_ENDPOINT_URL_ROUTE_53 as string;
  if (SQS_SERVER === 'local-aws-sqs') {
    const port = await freePort();
    const server = startServer('local-aws-sqs', process.execPath, [join(import.meta.dirname, 'local-sqs.ts')], {
      logFile: join(harness.dir, 'local-aws-sqs.log'),
      env: { ...process.env, PORT: String(port) },
    });
    servers.push(server);
    Object.assign(env, { ...HARNESS_AWS, AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}` });
    await waitUntil('local-aws-sqs', async () => (await fetch(env.AWS_ENDPOINT_URL_SQS as string)).status > 0, { server });
  }
  await migrateToLatest(env.MYSQL_PRIMARY_URL as string);
  const sqs = sqsClient(env as never);
  const queue = await createQueueWithDlq(sqs, `bench-${randomUUID().slice(0, 8)}.fifo`);

  // ElasticMQ runs on the JVM, whose JIT takes about a minute of traffic to settle (at 200
  // messages/s its CPU fell from 116% to 28% of a core over 60 s: docs/benchmarks.md); SQS itself
  // is always warm. So before anything is measured, SQS_WARMUP messages go through a scratch queue.
  if (SQS_WARMUP > 0) {
    const started = performance.now();
    const scratch = await createQueueWithDlq(sqs, `warm-${randomUUID().slice(0, 8)}.fifo`);
    const until = Date.now() + 180_000;
    let [sent, done] = [0, 0];
    const send = async () => {
      for (; sent < SQS_WARMUP && Date.now() < until; sent += 10) {
        const entries = Array.from({ length: 10 }, (_, i) => {
          const id = randomUUID();
          return { Id: String(i), MessageBody: id.repeat(25), MessageGroupId: id, MessageDeduplicationId: id };
        });
        await sqs.send(new SendMessageBatchCommand({ QueueUrl: scratch.queueUrl, Entries: entries }));
      }
    };
    const receive = async () => {
      while (done < SQS_WARMUP && Date.now() < until) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: scratch.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        done += Messages.length;
        if (Messages.length === 0) continue;
        const entries = Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }));
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: scratch.queueUrl, Entries: entries }));
      }
    };
    await Promise.all([send(), send(), receive(), receive(), receive(), receive()]);
    console.log(`${SQS_SERVER} warmed up: ${done} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  // The receiver: verifies every signature, notes when each reservation's webhook arrived.
  const secrets = new Map<string, string>();
  const received = new Map<string, number>();
  let invalid = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      const provider = req.url?.split('/').pop() ?? '';
      if (verificationFailure(secrets.get(provider) ?? '', req.headers, body)) invalid++;
      const id = (JSON.parse(body) as { reservation: { id: string } }).reservation.id;
      if (!received.has(id)) received.set(id, at);
      res.writeHead(204).end();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

  const start = async (name: string, entry: string, extra: Record<string, string>) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const server = startServer(name, process.execPath, [join(repoRoot, entry)], {
      logFile: join(harness.dir, `${name}.log`),
      env: {
        ...process.env,
        ...env,
        HOST: '127.0.0.1',
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        LOG_LEVEL: 'warn',
        JWT_SECRET: SECRET,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        BOOKING_SIGNING_KEYS: 'bench-booking-signing-key-32-characters-long',
        // The bench books from 2045 on: a horizon that reaches it.
        BOOKING_HORIZON_DAYS: '36500',
        // One customer books at BENCH_RATE: limits it cannot reach (the limiter's cost is still paid).
        RATE_LIMIT_READS: '1000000000',
        RATE_LIMIT_WRITES: '1000000000',
        RATE_LIMIT_HOLDS: '1000000000',
        SQS_QUEUE_URL: queue.queueUrl,
        SQS_DLQ_URL: queue.dlqUrl,
        SHUTDOWN_DELAY_MS: '0',
        ...extra,
      },
    });
    servers.push(server);
    await waitUntil(`${name} ready`, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, { server });
    return { url: `http://127.0.0.1:${port}`, metrics: `http://127.0.0.1:${adminPort}/metrics` };
  };
  const api = await start('reservation-api', 'services/reservation-api/src/server.ts', {});
  const consumer = await start('notifier', 'services/notifier/src/server.ts', {
    WEBHOOK_SECRET_KEYS: `bench-1:${Buffer.alloc(32, 7).toString('base64')}`,
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
  });
  const [writer, notifier] = [api.url, consumer.url];
  /** A Prometheus histogram's _sum and _count. */
  const histogram = (text: string, name: string) => {
    const value = (suffix: string) => Number(new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { sum: value('sum'), count: value('count') };
  };
  const processes = [...harness.servers, ...servers];
  /** The histograms the summary reads, and each process's CPU seconds so far. */
  const snapshot = async () => {
    const [apiText, notifierText] = await Promise.all([api.metrics, consumer.metrics].map(async (url) => (await fetch(url)).text()));
    const metrics: Record<string, { sum: number; count: number }> = {};
    for (const name of ['outbox_send_duration_seconds', 'outbox_batch_size']) metrics[name] = histogram(apiText as string, name);
    for (const name of ['notifier_processing_duration_seconds', 'webhook_delivery_duration_seconds']) {
      metrics[name] = histogram(notifierText as string, name);
    }
    const cpu: Record<string, number> = Object.fromEntries(processes.map((server) => [server.name, cpuSeconds(server.pid)]));
    const own = process.cpuUsage();
    cpu['bench (load + receiver)'] = (own.user + own.system) / 1e6;
    return { at: performance.now(), metrics, cpu, machine: machineBusySeconds() };
  };

  const json = { 'content-type': 'application/json' };
  const admin = { ...json, authorization: `Bearer ${sign({ sub: 'admin', role: 'admin' })}` };
  for (let p = 0; p < PROVIDERS; p++) {
    const put = await fetch(`${notifier}/v1/providers/p${p}/webhook`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ url: `${hooks}/p${p}` }),
    });
    secrets.set(`p${p}`, ((await put.json()) as { secret: string }).secret);
  }
  const resources: string[] = [];
  for (let i = 0; i < RESOURCES; i++) {
    const r = await fetch(`${writer}/v1/resources`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: `car ${i}`, providerId: `p${i % PROVIDERS}`, timeZone: 'UTC' }),
    });
    resources.push(((await r.json()) as { id: string }).id);
  }

  // Baseline: the bare SQS hop on the same SQS server, one message at a time: SendMessage, then a
  // ReceiveMessage already long-polling receives it.
  const hop: number[] = [];
  for (let i = 0; i < 200; i++) {
    const body = randomUUID();
    const receiving = sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }));
    await sleep(5);
    const sentAt = performance.now();
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody: body, MessageGroupId: body, MessageDeduplicationId: body }),
    );
    const { Messages = [] } = await receiving;
    if (Messages[0]?.Body === body) hop.push(performance.now() - sentAt);
    for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queue.dlqUrl, ReceiptHandle: m.ReceiptHandle }));
  }

  // Bookings at RATE/s, open loop; `onCreated` gets each 201 with its id and latency.
  const customer = { ...json, authorization: `Bearer ${sign({ sub: 'bench', role: 'customer' })}` };
  let booked = 0;
  let failed = 0;
  async function book(count: number, onCreated: (id: string, at: number, latency: number) => void): Promise<number> {
    const t0 = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const slot = booked++;
      const startsAt = new Date(Date.UTC(2045, 0, 1) + Math.floor(slot / RESOURCES) * 3_600_000);
      const sentAt = performance.now();
      inFlight.push(
        fetch(`${writer}/v1/reservations`, {
          method: 'POST',
          headers: { ...customer, 'idempotency-key': randomUUID() },
          body: JSON.stringify({
            resourceId: resources[slot % RESOURCES],
            startsAt: startsAt.toISOString(),
            endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
          }),
        }).then(async (response) => {
          const at = performance.now();
          const body = (await response.json()) as { id?: string };
          if (response.status !== 201 || !body.id) failed++;
          else onCreated(body.id, at, at - sentAt);
        }),
      );
    }
    await Promise.all(inFlight);
    return count / ((performance.now() - t0) / 1000);
  }
  const arrived = async (ids: string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (ids.some((id) => !received.has(id)) && Date.now() < deadline) await sleep(100);
  };

  // Warm-up, not counted: the services' JIT, pools and caches; then its webhooks drain, so the
  // measured run starts with nothing queued.
  const warm = new Set<string>();
  await book(RATE * WARMUP_SECONDS, (id) => warm.add(id));
  await arrived([...warm], 60_000);
  const warmRows = booked;

  // The measured run.
  const created = new Map<string, number>();
  const createdLatency: number[] = [];
  const before = await snapshot();
  const achievedRate = await book(RATE * SECONDS, (id, at, latency) => {
    created.set(id, at);
    createdLatency.push(latency);
  });
  const after = await snapshot();
  await arrived([...created.keys()], 60_000);

  const toWebhook = [...created].filter(([id]) => received.has(id)).map(([id, at]) => (received.get(id) as number) - at);
  const missing = [...created.keys()].filter((id) => !received.has(id)).length;
  const conn = await mysql.createConnection({ uri: env.MYSQL_PRIMARY_URL as string, timezone: 'Z' });
  const [rows] = (await conn.query(
    `SELECT TIMESTAMPDIFF(MICROSECOND, occurred_at, sent_at) / 1000 AS lag FROM outbox
     WHERE aggregate_type = 'reservation' AND sent_at IS NOT NULL ORDER BY id LIMIT 18446744073709551615 OFFSET ?`,
    [warmRows],
  )) as unknown as [{ lag: string }[]];
  await conn.end();
  const lag = rows.map((r) => Number(r.lag));

  const mean = (name: string) => {
    const none = { sum: Number.NaN, count: Number.NaN };
    const [a, b] = [before.metrics[name] ?? none, after.metrics[name] ?? none];
    return { mean: (b.sum - a.sum) / (b.count - a.count), count: b.count - a.count };
  };
  const sends = mean('outbox_send_duration_seconds');
  const passes = mean('outbox_batch_size');
  const processing = mean('notifier_processing_duration_seconds');
  const posts = mean('webhook_delivery_duration_seconds');
  const runSeconds = (after.at - before.at) / 1000;
  const cpu = Object.keys(after.cpu)
    .map((name) => `${name} ${((((after.cpu[name] as number) - (before.cpu[name] as number)) / runSeconds) * 100).toFixed(0)}%`)
    .join(', ');
  // Whatever else ran on the machine meanwhile (other sessions' builds, tests): the run was quiet if this is ~0.
  const ours = Object.keys(after.cpu).reduce((sum, name) => sum + (after.cpu[name] as number) - (before.cpu[name] as number), 0);
  const others = Math.max(0, after.machine - before.machine - ours) / runSeconds;
  const p = (v: number[]) => ({
    p50: quantile(v, 0.5) ?? Number.NaN,
    p99: quantile(v, 0.99) ?? Number.NaN,
    max: quantile(v, 1) ?? Number.NaN,
  });
  const hook = p(toWebhook);
  const outbox = p(lag);
  const base = p(hop);
  const verdict = (value: number, target: number) => (value < target ? `meets < ${target} ms` : `MISSES < ${target} ms`);
  console.log(`
event pipeline on ${SQS_SERVER} at ${RATE}/s for ${SECONDS} s (achieved ${achievedRate.toFixed(0)}/s; ${created.size} bookings counted after ${warmRows} in ${WARMUP_SECONDS} s of warm-up, ${failed} failed, ${missing} webhooks missing, ${invalid} bad signatures)

                                   p50        p99        max
  POST /v1/reservations → 201     ${ms(p(createdLatency).p50).padEnd(10)} ${ms(p(createdLatency).p99).padEnd(10)} ${ms(p(createdLatency).max)}
  201 → webhook received          ${ms(hook.p50).padEnd(10)} ${ms(hook.p99).padEnd(10)} ${ms(hook.max)}    p99 ${verdict(hook.p99, TARGETS.webhookP99Ms)}
  outbox lag (commit → sent)      ${ms(outbox.p50).padEnd(10)} ${ms(outbox.p99).padEnd(10)} ${ms(outbox.max)}    p99 ${verdict(outbox.p99, TARGETS.outboxLagP99Ms)}
  baseline: bare SQS hop             ${ms(base.p50).padEnd(10)} ${ms(base.p99).padEnd(10)} ${ms(base.max)}

  201 → webhook p50 = ${(hook.p50 / base.p50).toFixed(1)}× the bare SQS hop p50

  where the time goes (means): relay pass ${passes.mean.toFixed(1)} events (${passes.count} passes), SendMessageBatch call ${ms(sends.mean * 1000)};
  notifier transaction per event ${ms(processing.mean * 1000)}, webhook POST ${ms(posts.mean * 1000)}
  CPU during the run (100% = one of ${availableParallelism()} cores): ${cpu}; other processes ${(others * 100).toFixed(0)}%
`);
} finally {
  for (const server of servers.reverse()) await server.stop(5000);
  if (process.env.BENCH_KEEP_LOGS) console.log(`logs in ${harness.dir}`);
  else await harness.stop();
}
process.exit(0);
