import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Notification, NotificationSchema } from '@reservations/contracts';
import type { HistoryEntry } from '@reservations/database';
import { Problem } from '@reservations/service-kit';
import type { RowDataPacket } from 'mysql2/promise';
import { Gauge, type Registry } from 'prom-client';
import { Type } from 'typebox';
import { problems } from '../errors.ts';
import { commonProblems, ProviderParams, security } from '../schemas/common.ts';
import { checkProviderAccess } from './access.ts';

const PAGE = 100;

export interface StreamOptions {
  registry: Registry;
  heartbeatMs: number;
  pollIntervalMs: number;
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
 */
const notificationRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (app, { registry, heartbeatMs, pollIntervalMs }) => {
  const open = new Set<() => void>();
  new Gauge({
    name: 'sse_streams_open',
    help: 'SSE notification streams this process holds open',
    registers: [registry],
    collect() {
      this.set(open.size);
    },
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
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      checkProviderAccess(request.principal, id);
      const lastEventId = request.headers['last-event-id'];
      let cursor: number;
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
              const entries = await app.history.forProvider(app.db, id, cursor, PAGE);
              if (closed) return;
              for (const entry of entries) {
                raw.write(sseEvent(entry));
                cursor = entry.providerSeq;
              }
              if (entries.length < PAGE) break;
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
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
      const close = () => {
        if (closed) return;
        closed = true;
        open.delete(close);
        unlisten();
        clearInterval(poll);
        clearInterval(heartbeat);
        raw.end();
      };
      open.add(close);
      request.raw.on('close', close);
      await pump();
    },
  );
};

export default notificationRoutes;
