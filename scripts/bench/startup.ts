// How fast a pod of each service is ready, and what its image weighs: `npm run bench:startup`.
// Starts its own MariaDB pair, Redis and ElasticMQ (the test harness), then for each service runs
// BENCH_RUNS (5) starts of each way of running it, one at a time, and prints exec → /readyz 200
// (p50, max), the resident memory once ready and idle (its own process_resident_memory_bytes, 2 s
// after ready), and the ratios to the baseline measured in the same run, the TypeScript sources:
//   sources  node src/server.ts with the repo's pinned Node (how `npm start` and most tests run it)
//   bundle   node dist/server.mjs, images/bundle.ts's output, with the same Node
//   image    the image's own filesystem, assembled from its Dockerfile (charts/test/support/image-tree.ts:
//            images/rootfs.ts's node and libraries, the bundle), run read-only in a chroot as uid
//            10001 (root only), as the pod runs it
// and each image's size: the files of its tree, and gzip -6 of their tar (what a registry stores
// and a node pulls).
//
// Ready means what the pod's readiness probe asks: configuration checked, the schema version read
// (one MySQL connection), Redis reached, the queue reached (notifier), both ports listening.
// Warm pools are excluded: the MySQL pools open their other connections when requests need them,
// not before /readyz says 200, so the first requests may pay for a connection each. Not a test:
// figures depend on the machine.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { grantServiceUsers, migrateToLatest } from '@reservations/database';
import {
  asDbAccount,
  bundled,
  createQueueWithDlq,
  freePort,
  harnessEnv,
  quantile,
  repoRoot,
  SERVICE_DB_ACCOUNTS,
  serviceDbAccounts,
  startHarness,
  startServer,
  testSqs,
  waitForReplica,
  waitUntil,
} from '@reservations/testkit';
import { buildImageTree, type ImageTree } from '../../charts/test/support/image-tree.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_MS = 2000;
const SERVICES = ['reservation-api', 'query-api', 'notifier'] as const;
type Service = (typeof SERVICES)[number];
type Mode = 'sources' | 'bundle' | 'image';

interface Start {
  readyMs: number;
  rssMb: number;
}

const harness = await startHarness(['mysql', 'redis', 'sqs']);
Object.assign(process.env, harness.env);
const scratch = mkdtempSync(join(tmpdir(), 'bench-startup-'));
try {
  // The harness's database, migrated, each service's own account granted its tables (as in production).
  const [MYSQL_PRIMARY_URL, MYSQL_REPLICA_URL, MYSQL_PRIMARY_ADMIN_URL, MYSQL_REPLICA_ADMIN_URL] = [
    'MYSQL_PRIMARY_URL',
    'MYSQL_REPLICA_URL',
    'MYSQL_PRIMARY_ADMIN_URL',
    'MYSQL_REPLICA_ADMIN_URL',
  ].map(harnessEnv) as [string, string, string, string];
  await migrateToLatest(MYSQL_PRIMARY_URL);
  await grantServiceUsers(MYSQL_PRIMARY_ADMIN_URL.replace(/\/[^/]*$/, new URL(MYSQL_PRIMARY_URL).pathname), serviceDbAccounts());
  await waitForReplica({ MYSQL_PRIMARY_ADMIN_URL, MYSQL_REPLICA_ADMIN_URL });
  const as = (service: Service, url: string) => asDbAccount(url, SERVICE_DB_ACCOUNTS[service]);
  const queue = await createQueueWithDlq(testSqs(), `startup-${Date.now()}.fifo`);
  const aws = Object.fromEntries(
    ['AWS_ENDPOINT_URL_SQS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].map((name) => [name, harnessEnv(name)]),
  );
  // Each service's settings as the operator gives them (its own database account, the defaults otherwise).
  const envOf: Record<Service, Record<string, string>> = {
    'reservation-api': {
      ...aws,
      MYSQL_PRIMARY_URL: as('reservation-api', MYSQL_PRIMARY_URL),
      OUTBOX_RELAY: 'in-process',
      SQS_QUEUE_URL: queue.queueUrl,
    },
    'query-api': { MYSQL_PRIMARY_URL: as('query-api', MYSQL_PRIMARY_URL), MYSQL_REPLICA_URL: as('query-api', MYSQL_REPLICA_URL) },
    notifier: {
      ...aws,
      MYSQL_PRIMARY_URL: as('notifier', MYSQL_PRIMARY_URL),
      SQS_QUEUE_URL: queue.queueUrl,
      SQS_DLQ_URL: queue.dlqUrl,
      WEBHOOK_SECRET_KEYS: `kek-1:${Buffer.alloc(32, 1).toString('base64')}`,
    },
  };
  const contained = process.getuid?.() === 0;
  const images = new Map<Service, ImageTree>();
  for (const service of SERVICES) {
    images.set(service, await buildImageTree(`services/${service}/Dockerfile`, join(scratch, service)));
  }

  const commandOf = async (service: Service, mode: Mode): Promise<string[]> => {
    if (mode === 'sources') return [process.execPath, join(repoRoot, 'services', service, 'src', 'server.ts')];
    if (mode === 'bundle') return [process.execPath, (await bundled(service))['server.mjs'] as string];
    return (images.get(service) as ImageTree).contained();
  };

  /** One start: exec → the first /readyz 200, then the process's own RSS once idle; then it is stopped. */
  const start = async (service: Service, mode: Mode, run: number): Promise<Start> => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const [command = '', ...args] = await commandOf(service, mode);
    const env = {
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      REDIS_URL: harnessEnv('REDIS_URL'),
      JWT_SECRET: 'bench-secret-that-is-at-least-32-bytes-long',
      JWT_ISSUER: 'https://bench.idp.test/',
      JWT_AUDIENCE: 'reservations',
      BOOKING_SIGNING_KEYS: 'bench-booking-signing-key-32-characters-long',
      // What the operator's ConfigMap sets.
      LOG_LEVEL: 'info',
      ...envOf[service],
      ...(mode === 'image' ? (images.get(service) as ImageTree).env : { NODE_ENV: 'production' }),
      // The host's, to find node or unshare; the image's node is found on the image's own PATH.
      PATH: process.env.PATH as string,
    };
    const readyz = `http://127.0.0.1:${adminPort}/readyz`;
    const began = performance.now();
    const server = startServer(service, command, args, { logFile: join(scratch, `${service}-${mode}-${run}.log`), env });
    try {
      await waitUntil(`${service} (${mode}) ready`, async () => (await fetch(readyz)).status === 200, {
        server,
        intervalMs: 5,
        timeoutMs: 60_000,
      });
      const readyMs = performance.now() - began;
      await sleep(IDLE_MS);
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const rss = /^process_resident_memory_bytes(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1];
      if (!rss) throw new Error(`${service} (${mode}): no process_resident_memory_bytes in /metrics`);
      return { readyMs, rssMb: Number(rss) / 2 ** 20 };
    } finally {
      await server.stop(5000);
    }
  };

  const modes: Mode[] = contained ? ['sources', 'bundle', 'image'] : ['sources', 'bundle'];
  if (!contained) process.stdout.write('not root: the image mode (a chroot) is left out\n');
  // Built before any timing (bundled() builds once per process).
  for (const service of SERVICES) await bundled(service);
  const rows: string[] = [];
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  for (const service of SERVICES) {
    const figures = new Map<Mode, Start[]>();
    // Interleaved, so a slower minute of a shared machine falls on every mode alike.
    for (let run = 0; run < RUNS; run++) {
      for (const mode of modes) figures.set(mode, [...(figures.get(mode) ?? []), await start(service, mode, run)]);
    }
    const baseline = figures.get('sources') as Start[];
    const p50 = (starts: Start[], key: keyof Start) =>
      quantile(
        starts.map((s) => s[key]),
        0.5,
      ) ?? Number.NaN;
    for (const mode of modes) {
      const starts = figures.get(mode) as Start[];
      const ready = p50(starts, 'readyMs');
      const rss = p50(starts, 'rssMb');
      rows.push(
        [
          service.padEnd(16),
          mode.padEnd(8),
          `ready p50 ${ready.toFixed(0).padStart(5)} ms`,
          `max ${Math.max(...starts.map((s) => s.readyMs))
            .toFixed(0)
            .padStart(5)} ms`,
          `(${(ready / p50(baseline, 'readyMs')).toFixed(2)}x)`,
          `RSS idle p50 ${rss.toFixed(0).padStart(4)} MiB`,
          `(${(rss / p50(baseline, 'rssMb')).toFixed(2)}x)`,
        ].join('  '),
      );
    }
    const dist = (await bundled(service))['server.mjs'] as string;
    const image = images.get(service) as ImageTree;
    const size = await treeSize(image.root);
    rows.push(
      `${service.padEnd(16)}  bundle ${mb(statSync(dist).size)} MiB (server.mjs), image ${mb(size.files)} MiB of files, ${mb(size.gzip)} MiB gzip` +
        ` (node ${mb(statSync(join(image.root, 'usr/local/bin/node')).size)} MiB)`,
    );
    process.stdout.write(`${rows.slice(-modes.length - 1).join('\n')}\n`);
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\n${RUNS} starts each, interleaved; load average at the end ${load}\n${rows.join('\n')}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await harness.stop();
}

/** The tree's files (apparent sizes) and the gzip -6 of its tar, as a registry stores a layer. */
async function treeSize(root: string): Promise<{ files: number; gzip: number }> {
  let files = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files += statSync(path).size;
    }
  };
  walk(root);
  const tar = spawn('tar', ['-C', root, '--numeric-owner', '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let gzip = 0;
  const gz = tar.stdout.pipe(createGzip({ level: 6 }));
  for await (const chunk of gz) gzip += (chunk as Buffer).length;
  return { files, gzip };
}
