import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONSISTENCY_HEADER } from '@reservations/contracts';
// undici's own fetch: Node's bundled one takes no dispatcher of this undici's version.
import { Agent, fetch, type Response } from 'undici';
import type { RequestRecord, Stack } from './accounting.ts';
import { cachingResolver, clientConnection, type WeightedRecord } from './dns.ts';

/** One cluster's services, reached through its load balancer's hostname. */
export interface StackEndpoints {
  stack: Stack;
  reservationApi: string;
  queryApi: string;
}

export interface LoadOptions {
  clients: number;
  /** Requests per second over all clients. */
  rate: number;
  readShare: number;
  /** Share of requests that cancel the client's last booking, when it has one not yet cancelled (default 0). */
  cancelShare?: number;
  keepAliveShare: number;
  keepAliveHoldMs: number;
  /** One resolution of the weighted name: the record's value and TTL (a DNS query to the stand-in). */
  answer: () => Promise<Pick<WeightedRecord, 'value' | 'ttlSeconds'>>;
  /** The load balancer hostnames the records point at, mapped to the local stack behind each. */
  stacks: Readonly<Record<string, StackEndpoints>>;
  /** Resources to book; client writes never share a (resource, window), so none conflicts. */
  resources: readonly string[];
  /** A customer's bearer token. */
  token: (customer: string) => string;
  timeoutMs?: number;
  /** Called with every request's record as it is made (counters, a /metrics). */
  onRecord?: (record: RequestRecord) => void;
  /** Keep `records` of this many last milliseconds only (a long-running load); all of them when unset. */
  retainMs?: number;
}

const DAY_MS = 86_400_000;

/**
 * Virtual clients at a steady total rate. Each resolves the record name through its own caching
 * resolver (an answer kept for the record's TTL); a share of them keep their connection for
 * `keepAliveHoldMs` whatever DNS says. Each request is either a booking on reservation-api (a
 * window no other request books), a read of the client's last booking on query-api with
 * the booking's consistency token, or (`cancelShare`) a cancellation of that booking. Every request is recorded with the stack that got it. A
 * keep-alive client drops its connection when a response says `Connection: close` (what a
 * draining service sends) or a request fails, and resolves again for the next one. It keeps a
 * connection per service (the two services stand for one load balancer on two ports here), each
 * its own socket (an undici Agent of one connection), as a real client's is: a service that
 * closes a socket closes that one connection, not a shared pool's socket that many clients take
 * turns on.
 */
export function startLoad(options: LoadOptions) {
  // From the start of the day after tomorrow (UTC): inside the services' booking horizon, never past.
  const bookingEpoch = (Math.floor(Date.now() / DAY_MS) + 2) * DAY_MS;
  const records: RequestRecord[] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  let rate = options.rate;
  let intervalMs = (options.clients * 1000) / rate;
  const record = (r: RequestRecord) => {
    records.push(r);
    options.onRecord?.(r);
  };
  const pruning =
    options.retainMs === undefined
      ? undefined
      : setInterval(() => {
          const from = Date.now() - (options.retainMs ?? 0);
          const keep = records.findIndex((r) => r.at >= from);
          records.splice(0, keep < 0 ? records.length : keep);
        }, 5000);
  const keepAliveClients = Math.round(options.clients * options.keepAliveShare);
  let slot = 0;
  let stopping = false;

  async function client(index: number): Promise<void> {
    const customer = `sim-client-${index}`;
    const auth = { authorization: `Bearer ${options.token(customer)}` };
    const keepsAlive = index < keepAliveClients;
    // One connection per service, each its own socket: a service closing it moves that
    // connection only, as a socket is what the service sees and closes.
    const resolver = cachingResolver(options.answer);
    const hold = keepsAlive ? options.keepAliveHoldMs : undefined;
    const connections = { reservationApi: clientConnection(resolver, hold), queryApi: clientConnection(resolver, hold) };
    const sockets: Partial<Record<keyof typeof connections, { agent: Agent; opened: number }>> = {};
    let last: { id: string; token: string; cancelled?: boolean } | undefined;
    let next = Date.now() + Math.random() * intervalMs;
    while (!stopping) {
      await sleep(Math.max(0, next - Date.now()));
      if (stopping) return;
      next = Math.max(Date.now(), next + intervalMs);
      const at = Date.now();
      const dice = Math.random();
      const cancelShare = options.cancelShare ?? 0;
      const cancel = last !== undefined && !last.cancelled && dice < cancelShare;
      const read = !cancel && last !== undefined && dice < cancelShare + options.readShare;
      const service = read ? 'queryApi' : 'reservationApi';
      const connection = connections[service];
      let hostname: string;
      try {
        hostname = await connection.hostname();
      } catch (err) {
        // No answer (no record, or moto unreachable): the client cannot send anything, a failed request.
        record({ at, client: index, error: `resolve: ${(err as Error).message}`, latencyMs: Date.now() - at });
        continue;
      }
      const endpoints = options.stacks[hostname];
      if (!endpoints) throw new Error(`the record points at ${hostname}, which is not a stack of this simulation`);
      if (keepsAlive && sockets[service]?.opened !== connection.opened) {
        void sockets[service]?.agent.close();
        sockets[service] = { agent: new Agent({ connections: 1 }), opened: connection.opened };
      }
      const socket = sockets[service];
      const dispatcher = socket ? { dispatcher: socket.agent } : {};
      try {
        let response: Response;
        if (cancel && last) {
          response = await fetch(`${endpoints.reservationApi}/v1/reservations/${last.id}/cancel`, {
            method: 'POST',
            headers: { ...auth, 'idempotency-key': randomUUID() },
            signal: AbortSignal.timeout(timeoutMs),
            ...dispatcher,
          });
          if (response.status === 200) last = { ...last, cancelled: true, token: response.headers.get(CONSISTENCY_HEADER) ?? last.token };
        } else if (read && last) {
          response = await fetch(`${endpoints.queryApi}/v1/reservations/${last.id}`, {
            headers: { ...auth, ...(last.token ? { [CONSISTENCY_HEADER]: last.token } : {}) },
            signal: AbortSignal.timeout(timeoutMs),
            ...dispatcher,
          });
        } else {
          const n = slot++;
          const start = bookingEpoch + Math.floor(n / options.resources.length) * 60_000;
          response = await fetch(`${endpoints.reservationApi}/v1/reservations`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
            body: JSON.stringify({
              resourceId: options.resources[n % options.resources.length],
              startsAt: new Date(start).toISOString(),
              endsAt: new Date(start + 60_000).toISOString(),
            }),
            signal: AbortSignal.timeout(timeoutMs),
            ...dispatcher,
          });
        }
        const body = (await response.json().catch(() => undefined)) as { id?: string; title?: string; detail?: string } | undefined;
        if (!read && !cancel && response.status === 201 && body?.id)
          last = { id: body.id, token: response.headers.get(CONSISTENCY_HEADER) ?? '' };
        // A 5xx says which call and the problem's detail, so a failed run tells what failed.
        const failed = response.status >= 500 ? { error: `${response.status} ${service} ${body?.detail ?? body?.title ?? ''}`.trim() } : {};
        record({ at, stack: endpoints.stack, client: index, status: response.status, latencyMs: Date.now() - at, ...failed });
        // A draining server asks keep-alive clients to reconnect (RFC 9112 §9.6): the next request resolves again.
        if (response.headers.get('connection')?.toLowerCase() === 'close') connection.drop();
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        record({ at, stack: endpoints.stack, client: index, error: cause ?? (err as Error).name, latencyMs: Date.now() - at });
        connection.drop();
      }
    }
    await Promise.all(Object.values(sockets).map((socket) => socket.agent.close()));
  }

  const running = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  return {
    records,
    rate: () => rate,
    /** Changes the total rate while the load runs: each client's next request is spaced by the new interval. */
    setRate(requestsPerSecond: number): void {
      rate = requestsPerSecond;
      intervalMs = (options.clients * 1000) / rate;
    },
    /** Rejects if a client hit something the simulation cannot go on from (a record pointing nowhere). */
    running,
    async stop(): Promise<void> {
      stopping = true;
      clearInterval(pruning);
      await running;
    },
  };
}
