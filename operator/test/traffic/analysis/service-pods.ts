import { setTimeout as sleep } from 'node:timers/promises';
import { createAdminServer, createRegistry, httpMetrics } from '@reservations/service-kit';
import Fastify from 'fastify';
import pino from 'pino';
import type { ScrapeTarget } from '../../../src/traffic/analysis/pods.ts';

/**
 * A stand-in for one pod of a service: a real Fastify app with service-kit's httpMetrics (the
 * histogram the services expose) and its real admin server, on loopback. Its routes answer on
 * purpose: `/ok` 200, `/fail` 500, `/slow?ms=` 200 after a while.
 */
export interface ServicePod {
  pod: string;
  api: string;
  /** The admin server's `/metrics`. */
  metricsUrl: string;
  target: ScrapeTarget;
  adminPort: number;
  /** Sends `n` requests to `path`, 8 at a time, and checks each got `status`. */
  send(path: string, n: number, status: number): Promise<void>;
  close(): Promise<void>;
}

export async function startServicePod(pod: string, service = 'query-api', { adminPort = 0, key = pod } = {}): Promise<ServicePod> {
  const registry = createRegistry(service);
  const logger = pino({ level: 'silent' });
  const app = Fastify({ loggerInstance: logger });
  await app.register(httpMetrics, { registry });
  app.get('/ok', async () => ({ ok: true }));
  app.get('/fail', async (_request, reply) => reply.code(500).send({ error: 'failing on purpose' }));
  app.get<{ Querystring: { ms?: string } }>('/slow', async (request) => {
    await sleep(Number(request.query.ms ?? 300));
    return { ok: true };
  });
  const admin = createAdminServer({ registry, checks: [], logger });
  const api = await app.listen({ host: '127.0.0.1', port: 0 });
  const adminUrl = await admin.app.listen({ host: '127.0.0.1', port: adminPort });
  const metricsUrl = `${adminUrl}/metrics`;
  return {
    pod,
    api,
    metricsUrl,
    adminPort: Number(new URL(adminUrl).port),
    target: { key, pod, url: metricsUrl },
    async send(path, n, status) {
      let next = 0;
      const worker = async () => {
        while (next < n) {
          next++;
          const response = await fetch(`${api}${path}`);
          await response.arrayBuffer();
          if (response.status !== status) throw new Error(`${pod} ${path}: ${response.status}, expected ${status}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, n) }, worker));
    },
    async close() {
      await app.close();
      await admin.app.close();
    },
  };
}
