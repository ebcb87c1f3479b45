import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { API_ENV, bearer, freshDatabase } from '@reservations/reservation-api/testing';
import {
  bundled,
  createQueueWithDlq,
  harnessEnv,
  type ServiceProcess,
  startServiceProcess,
  testSqs,
  waitUntil,
} from '@reservations/testkit';

/**
 * Each service started from its production bundle (images/bundle.ts, what its image runs), against
 * the harness's real servers: the whole booking path through the three bundles, each one's
 * OpenAPI page with swagger-ui's files (read from beside the bundle), its document and its metrics,
 * and the schema migrated by the bundled migrate command (its migrations beside it).
 */

const aws = () => ({
  AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
  AWS_REGION: harnessEnv('AWS_REGION'),
  AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
  AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
});

const SERVICES = ['reservation-api', 'query-api', 'notifier'] as const;
type Service = (typeof SERVICES)[number];

const started: Partial<Record<Service, ServiceProcess>> = {};
let migrateOutput = '';
let reservationApiBundle: Record<string, string> = {};
let database: Awaited<ReturnType<typeof freshDatabase>>;
let queueUrl = '';
const service = (name: Service) => started[name] as ServiceProcess;

beforeAll(async () => {
  const [api, query, notifier] = await Promise.all(SERVICES.map((s) => bundled(s)));
  const db = await freshDatabase('bundles');
  reservationApiBundle = api ?? {};
  database = db;
  // The bundled migrate command on the owner's account, then the grants (the grant command's work) for each service's own.
  migrateOutput = (
    await promisify(execFile)(process.execPath, [api?.['migrate.mjs'] as string], {
      env: { PATH: process.env.PATH, MYSQL_PRIMARY_URL: db.primaryUrl },
    })
  ).stdout;
  await db.migrate();
  const queue = await createQueueWithDlq(testSqs(), `bundles-${randomUUID().slice(0, 8)}.fifo`);
  queueUrl = queue.queueUrl;
  const common = { REDIS_URL: harnessEnv('REDIS_URL'), ...API_ENV, LOG_LEVEL: 'info' };
  const [a, q, n] = await Promise.all([
    startServiceProcess(api?.['server.mjs'] as string, {
      ...common,
      ...aws(),
      MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl,
      OUTBOX_RELAY: 'in-process',
      SQS_QUEUE_URL: queue.queueUrl,
    }),
    startServiceProcess(query?.['server.mjs'] as string, {
      ...common,
      MYSQL_PRIMARY_URL: db.as.queryApi.primaryUrl,
      MYSQL_REPLICA_URL: db.as.queryApi.replicaUrl,
    }),
    startServiceProcess(notifier?.['server.mjs'] as string, {
      ...common,
      ...aws(),
      MYSQL_PRIMARY_URL: db.as.notifier.primaryUrl,
      SQS_QUEUE_URL: queue.queueUrl,
      SQS_DLQ_URL: queue.dlqUrl,
      SQS_WAIT_TIME_SECONDS: '1',
      WEBHOOK_SECRET_KEYS: `kek-1:${Buffer.alloc(32, 1).toString('base64')}`,
    }),
  ]);
  Object.assign(started, { 'reservation-api': a, 'query-api': q, notifier: n });
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(started).map((s) => s.server.stop()));
});

describe('the services run from their bundles', () => {
  it("requires Node's built-ins instead of importing them: an imported built-in runs its lazy exports (node:http's loads Node's own undici)", async () => {
    for (const program of [...SERVICES, 'operator'] as const) {
      for (const file of Object.values(await bundled(program))) {
        // The one import left: the banner's createRequire, which gives the bundle its require.
        const imports = readFileSync(file, 'utf8').match(/^import .*$/gm);
        expect({ file, imports }).toEqual({
          file,
          imports: ["import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"],
        });
      }
    }
  });

  it('the bundled migrate command applies every migration, read from beside it', () => {
    expect(migrateOutput).toMatch(/^migrated to version \d+ \(applied 1, 2, 3, /);
  });

  it('the reservation-api image’s other commands run from their bundles: the grants (a dry run) and the relay alone', async () => {
    const grant = await promisify(execFile)(process.execPath, [reservationApiBundle['grant.mjs'] as string, '--dry-run'], {
      env: { PATH: process.env.PATH, MYSQL_PRIMARY_URL: database.adminUrl, DB_USER_QUERY_API: 'query_api' },
    });
    expect(grant.stdout).toMatch(/^query-api: 'query_api'@'%'/);
    expect(grant.stdout).toContain(`GRANT SELECT ON \`${database.name}\`.\`reservations\` TO 'query_api'@'%'`);
    expect(grant.stdout).toMatch(/dry run: nothing was changed\n$/);

    const relay = await startServiceProcess(reservationApiBundle['relay.mjs'] as string, {
      ...aws(),
      MYSQL_PRIMARY_URL: database.as.reservationApi.primaryUrl,
      SQS_QUEUE_URL: queueUrl,
    });
    try {
      expect(relay.log()).toContain('outbox relay running');
    } finally {
      await relay.server.stop();
    }
  });

  it('a booking goes through all three: reservation-api writes it, query-api reads it, the notifier records its event', async () => {
    const api = service('reservation-api').api;
    const admin = { ...bearer('admin', 'admin-1'), 'content-type': 'application/json' };
    const resource = await fetch(`${api}/v1/resources`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'room', providerId: 'p-bundle', timeZone: 'Europe/Paris' }),
    });
    expect(resource.status).toBe(201);
    const { id: resourceId } = (await resource.json()) as { id: string };
    const customer = bearer('customer', 'c-bundle');
    const created = await fetch(`${api}/v1/reservations`, {
      method: 'POST',
      headers: { ...customer, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId, startsAt: '2040-01-01T10:00:00Z', endsAt: '2040-01-01T11:00:00Z' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const consistency = { 'x-consistency-token': created.headers.get('x-consistency-token') ?? '' };

    const read = await fetch(`${service('query-api').api}/v1/reservations/${id}`, { headers: { ...customer, ...consistency } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id, resourceId, status: 'confirmed' });

    // Relayed to SQS by reservation-api, consumed and recorded by the notifier, served by query-api.
    let types: string[] = [];
    await waitUntil(
      'the notifier has recorded the booking’s event',
      async () => {
        const response = await fetch(`${service('query-api').api}/v1/reservations/${id}/events`, { headers: customer });
        const body = (await response.json()) as { items?: { type: string }[] };
        if (response.status !== 200 || !body.items?.length) throw new Error(`events: ${response.status} ${JSON.stringify(body)}`);
        types = body.items.map((e) => e.type);
        return true;
      },
      { server: service('notifier').server, timeoutMs: 60_000 },
    );
    expect(types).toEqual(['reservation.created']);

    // The notifier's own API: the provider sets its webhook and gets its signing secret once.
    const webhook = await fetch(`${service('notifier').api}/v1/providers/p-bundle/webhook`, {
      method: 'PUT',
      headers: { ...bearer('provider', 'p-bundle'), 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://hooks.example.com/reservations' }),
    });
    expect(webhook.status).toBe(201);
    expect(await webhook.json()).toMatchObject({ url: 'https://hooks.example.com/reservations', secret: expect.any(String) });
  });

  it.each(SERVICES)('%s: its OpenAPI page with swagger-ui’s files, its document, and its metrics', async (name) => {
    const { api, admin } = service(name);
    const page = await fetch(`${api}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui-bundle.js');
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-initializer.js', 'logo.svg']) {
      const asset = await fetch(`${api}/docs/static/${file}`);
      expect([file, asset.status]).toEqual([file, 200]);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    const document = (await (await fetch(`${api}/docs/json`)).json()) as { openapi: string; info: { title: string }; paths: object };
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.title).toBe(name);
    expect(Object.keys(document.paths).length).toBeGreaterThan(0);

    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    // The document's fetch above, counted by route template, and the process's own figures.
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*method="GET",route="\/docs\/json",status_code="200"\} 1/);
    expect(metrics).toContain('process_resident_memory_bytes');
  });
});
