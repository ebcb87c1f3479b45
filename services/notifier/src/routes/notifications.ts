import { once } from 'node:events';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Notification, NotificationSchema } from '@reservations/contracts';
import type { HistoryEntry } from '@reservations/database';
import { Problem, problemResponse, timeoutSignal } from '@reservations/service-kit';
import type { RowDataPacket } from 'mysql2/promise';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Type } from 'typebox';
import { problems } from '../errors.ts';
import { commonProblems, ProviderParams, security } from '../schemas/common.ts';
import { checkProviderAccess } from './access.ts';

export interface StreamOptions {
  registry: Registry;
  heartbeatMs: number;
  pollIntervalMs: number;
  /** Streams one provider may hold open on this process. */
  maxStreamsPerProvider: number;
  /** Events read from the history at once. */
  pageSize: number;
  /** A reader that has not taken what was written within this is disconnected. */
  slowReaderMs: number;
}

/** One SSE event (WHATWG HTML §9.2): the event id is the SSE id, so a reconnect resumes after it. */
export function sseEvent(entry: HistoryEntry): string {
  const notification: Notification = {
    eventId: entry.eventId,
    type: entry.type,
    version: entry.version,
    occurredAt: entry.occurredAt,
    reservation: entry.reservation,
  };
  return `id: ${entry.eventId}\nevent: ${entry.type}\ndata: ${JSON.stringify(notification)}\n\n`;
}

/**
 * `GET /v1/providers/:id/notifications`: the provider's notifications as Server-Sent Events,
 * read from the event history in stream order. Without Last-Event-ID it starts at the present;
 * with it, right after that event (EventSource sends it by itself on reconnect), so nothing is
 * missed across a dropped connection or a replica change. Live through Redis pub/sub from
 * whichever replica processed the event, with a periodic read as the fallback.
 *
 * Bounded: at most `maxStreamsPerProvider` streams per provider on this process (a 429 past it);
 * the history is read a page at a time and the next page waits until the reader has taken the
 * last (Node's `drain`), so a slow reader costs one page of memory, and one that takes nothing for
 * `slowReaderMs` is disconnected (it resumes with Last-Event-ID). A stream that is a full page
 * behind reads its next pages from the replica, back on the primary once the replica has no more.
 */
const notificationRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (
  app,
  { registry, heartbeatMs, pollIntervalMs, maxStreamsPerProvider, pageSize, slowReaderMs },
) => {
  const open = new Set<() => void>();
  const perProvider = new Map<string, number>();
  const release = (providerId: string) => {
    const left = (perProvider.get(providerId) ?? 1) - 1;
    if (left > 0) perProvider.set(providerId, left);
    else perProvider.delete(providerId);
  };
  new Gauge({
    name: 'sse_streams_open',
    help: 'SSE notification streams this process holds open',
    registers: [registry],
    collect() {
      this.set(open.size);
    },
  });
  const ended = new Counter({
    name: 'sse_streams_refused_total',
    help: 'SSE streams refused (the provider held as many as it may) or disconnected (the reader took nothing for too long)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Before the server waits for connections to end: a stream never ends by itself.
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });

  app.get(
    '/providers/:id/notifications',
    {
      schema: {
        operationId: 'streamNotifications',
        summary: 'Live notifications of this provider (text/event-stream), resumable with Last-Event-ID',
        tags: ['notifications'],
        security,
        params: ProviderParams,
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ format: 'uuid', description: 'resume right after this event' })),
        }),
        response: {
          200: {
            description: 'an endless stream of `id: <eventId>`, `event: <type>`, `data: <notification JSON>`',
            content: { 'text/event-stream': { schema: NotificationSchema } },
          },
          ...commonProblems,
          429: problemResponse(
            'rate limited, or `too-many-streams`: the provider already holds SSE_MAX_STREAMS_PER_PROVIDER streams on this process; retry after the Retry-After delay',
          ),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      checkProviderAccess(request.principal, id);
      const held = perProvider.get(id) ?? 0;
      if (held >= maxStreamsPerProvider) {
        ended.inc({ reason: 'too-many' });
        const retryAfter = Math.ceil(pollIntervalMs / 1000);
        throw new Problem(problems, 'too-many-streams', `provider ${id} already holds ${held} notification streams here, the most it may`, {
          extensions: { limit: maxStreamsPerProvider, retryAfterSeconds: retryAfter },
          headers: { 'retry-after': String(retryAfter) },
        });
      }
      // Counted before the first await, so concurrent requests cannot all pass the check.
      perProvider.set(id, held + 1);
      const lastEventId = request.headers['last-event-id'];
      let cursor: number;
      try {
        if (lastEventId) {
          const position = await app.history.positionOf(app.db, id, lastEventId);
          if (position === undefined) {
            throw new Problem(problems, 'unknown-last-event-id', `event ${lastEventId} is not in provider ${id}'s notifications`);
          }
          cursor = position;
        } else {
          const [[row]] = await app.db.query<RowDataPacket[]>('SELECT last_seq FROM provider_streams WHERE provider_id = ?', [id]);
          cursor = Number(row?.last_seq ?? 0);
        }
      } catch (err) {
        release(id);
        throw err;
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 2000\n\n');

      let reading = false;
      let again = false;
      let closed = false;
      // Resuming from a Last-Event-ID may be far behind: its first pages come from the replica.
      let behind = Boolean(lastEventId);
      const gone = new AbortController();
      /** True once the reader has taken what is buffered; false if it took nothing for slowReaderMs (or left). */
      const drained = async (): Promise<boolean> => {
        if (!raw.writableNeedDrain) return true;
        const wait = timeoutSignal(slowReaderMs, gone.signal);
        try {
          await once(raw, 'drain', { signal: wait.signal });
          return true;
        } catch {
          return false;
        } finally {
          wait.clear();
        }
      };
      const pump = async (): Promise<void> => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            for (;;) {
              const from = behind ? app.replica : app.db;
              const entries = await app.history.forProvider(from, id, cursor, pageSize);
              if (closed) return;
              for (const entry of entries) {
                raw.write(sseEvent(entry));
                cursor = entry.providerSeq;
              }
              if (!(await drained())) {
                if (!closed) ended.inc({ reason: 'slow-reader' });
                close();
                return;
              }
              if (entries.length === pageSize) behind = true;
              else if (from !== app.db)
                behind = false; // the replica has no more (or lags): the rest from the primary
              else break;
            }
          } while (again && !closed);
        } catch (err) {
          request.log.warn({ err }, 'reading the notification history failed; the next wake-up retries');
        } finally {
          reading = false;
        }
      };
      const wake = () => {
        void pump();
      };
      const unlisten = app.bus.listen(id, wake);
      const poll = setInterval(wake, pollIntervalMs);
      // A reader that is behind already has bytes coming: no heartbeat piles up behind them.
      const heartbeat = setInterval(() => raw.writableNeedDrain || raw.write(': keep-alive\n\n'), heartbeatMs);
      const close = () => {
        if (closed) return;
        closed = true;
        gone.abort();
        release(id);
        open.delete(close);
        unlisten();
        clearInterval(poll);
        clearInterval(heartbeat);
        // A reader that took nothing would hold end()'s flush for ever: its socket goes at once.
        if (raw.writableNeedDrain) raw.destroy();
        else raw.end();
      };
      open.add(close);
      request.raw.on('close', close);
      await pump();
    },
  );
};

export default notificationRoutes;
