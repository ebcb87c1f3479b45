import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { messageGroupId } from '@reservations/contracts';
import { deleteInBatches, withTransaction } from '@reservations/service-kit';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type OutboxRecord, toEnvelope } from '../domain/envelope.ts';
import { sendable } from '../domain/relay-order.ts';

/** SendMessageBatch takes at most 10 entries. */
const SQS_BATCH = 10;

export interface RelayOptions {
  pool: Pool;
  sqs: SQSClient;
  queueUrl: string;
  registry: Registry;
  log: FastifyBaseLogger;
  /** Rows one pass locks and sends (in SendMessageBatch calls of 10, in order). */
  batchSize?: number;
  /** The fallback when no commit wakes the relay: rows of another replica's crashed relay, say. */
  pollIntervalMs?: number;
  /** Sent rows are deleted this long after sending (the history lives in the notifier's table). */
  retentionHours?: number;
  /**
   * Passes in flight at once in this process: while one waits on SQS, the next locks the rows
   * committed meanwhile (SKIP LOCKED keeps them apart, the order check keeps each aggregate in order).
   */
  concurrency?: number;
}

export interface OutboxRelay {
  /** Runs a pass soon: called after every commit that may have appended an event. */
  wake(): void;
  /** Sends what is unsent now, pass after pass, until a pass finds nothing; resolves with how many it sent. */
  drain(): Promise<number>;
  start(): void;
  /** Stops polling and waits for the pass in flight (its rows are sent and marked, or rolled back). */
  stop(): Promise<void>;
}

type OutboxRow = RowDataPacket & OutboxRecord & { id: string };

/**
 * The transactional outbox relay: locks the oldest unsent rows with
 * `FOR UPDATE SKIP LOCKED` (so relays in several replicas split the work and never send one row
 * in the same pass), sends them to the FIFO queue with the aggregate as message group and the
 * event id as deduplication id, stamps `sent_at`, and commits. A crash between the send and the
 * commit leaves the rows unsent: they are sent again (SQS drops the repeat within its 5-minute
 * deduplication window; the notifier deduplicates on the event id after that). Never lost.
 */
export function createOutboxRelay({
  pool,
  sqs,
  queueUrl,
  registry,
  log,
  batchSize = 50,
  pollIntervalMs = 500,
  retentionHours = 168,
  concurrency = 1,
}: RelayOptions): OutboxRelay {
  const sent = new Counter({ name: 'outbox_events_sent_total', help: 'outbox events sent to SQS', registers: [registry] });
  const errors = new Counter({
    name: 'outbox_relay_errors_total',
    help: 'relay passes that failed (and will be retried)',
    registers: [registry],
  });
  const batchSizes = new Histogram({
    name: 'outbox_batch_size',
    help: 'events sent per relay pass',
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers: [registry],
  });
  const sendLag = new Histogram({
    name: 'outbox_send_lag_seconds',
    help: 'time from an event’s commit to its send',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const sendDuration = new Histogram({
    name: 'outbox_send_duration_seconds',
    help: 'time of one SendMessageBatch call',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'outbox_lag_seconds',
    help: 'age of the oldest unsent outbox row (0 when all are sent)',
    registers: [registry],
    async collect() {
      const [[row]] = await pool.query<RowDataPacket[]>(
        'SELECT TIMESTAMPDIFF(MICROSECOND, MIN(occurred_at), NOW(6)) AS lag FROM outbox WHERE sent_at IS NULL',
      );
      this.set(row?.lag == null ? 0 : Math.max(0, Number(row.lag)) / 1e6);
    },
  });

  async function send(rows: OutboxRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += SQS_BATCH) {
      const chunk = rows.slice(i, i + SQS_BATCH);
      const entries: SendMessageBatchRequestEntry[] = chunk.map((row) => {
        const envelope = toEnvelope(row);
        return {
          Id: row.id,
          MessageBody: JSON.stringify(envelope),
          MessageGroupId: messageGroupId(envelope),
          MessageDeduplicationId: envelope.eventId,
        };
      });
      const stopTimer = sendDuration.startTimer();
      const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })).finally(stopTimer);
      if (result.Failed?.length) {
        // Nothing of this pass is marked: every row is sent again, the ones that made it are deduplicated.
        throw new Error(`SendMessageBatch refused ${result.Failed.map((f) => `${f.Id}: ${f.Code} ${f.Message ?? ''}`).join('; ')}`);
      }
    }
  }

  /** One transaction: lock, send, mark. `full` says the batch was full, so more may be waiting. */
  async function pass(): Promise<{ sent: number; full: boolean }> {
    return withTransaction(pool, async (conn: PoolConnection) => {
      const [locked] = await conn.query<OutboxRow[]>(
        `SELECT id, event_id, aggregate_type, aggregate_id, type, version, payload, occurred_at FROM outbox
         WHERE sent_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [batchSize],
      );
      if (locked.length === 0) return { sent: 0, full: false };
      // Both columns of outbox_aggregate as IN lists, so the lookup is an index range, not a scan.
      const ids = [...new Set(locked.map((r) => r.aggregate_id))];
      const [unsent] = await conn.query<OutboxRow[]>(
        `SELECT id, aggregate_type, aggregate_id FROM outbox
         WHERE aggregate_type IN ('reservation', 'resource') AND aggregate_id IN (${ids.map(() => '?').join(', ')}) AND sent_at IS NULL`,
        ids,
      );
      const rows = sendable(locked, unsent);
      if (rows.length === 0) return { sent: 0, full: false };
      await send(rows);
      await conn.query<ResultSetHeader>(`UPDATE outbox SET sent_at = NOW(6) WHERE id IN (${rows.map(() => '?').join(', ')})`, [
        ...rows.map((r) => r.id),
      ]);
      const now = Date.now();
      for (const row of rows) sendLag.observe(Math.max(0, now - row.occurred_at.getTime()) / 1000);
      sent.inc(rows.length);
      batchSizes.observe(rows.length);
      return { sent: rows.length, full: locked.length === batchSize };
    });
  }

  const running = new Set<Promise<number>>();
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  async function runPasses(): Promise<number> {
    let total = 0;
    do {
      again = false;
      for (;;) {
        const { sent, full } = await pass();
        total += sent;
        if (!full || sent === 0) break;
      }
    } while (again);
    return total;
  }

  /** Starts a pass loop if fewer than `concurrency` run; otherwise asks a running one to go round again. */
  function drain(): Promise<number> {
    if (running.size >= concurrency) {
      again = true;
      return Promise.all(running).then((sent) => sent.reduce((a, b) => a + b, 0));
    }
    const loop = runPasses().finally(() => running.delete(loop));
    running.add(loop);
    return loop;
  }

  function wake(): void {
    drain().catch((err: unknown) => {
      errors.inc();
      log.warn({ err }, 'outbox relay pass failed; the rows stay unsent and are retried');
    });
  }

  async function sweep(): Promise<void> {
    await deleteInBatches(pool, {
      sql: 'DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < NOW(6) - INTERVAL ? HOUR',
      values: [retentionHours],
    });
  }

  return {
    wake,
    drain,
    start() {
      timer ??= setInterval(wake, pollIntervalMs);
      timer.unref();
      sweeper ??= setInterval(() => {
        sweep().catch((err: unknown) => log.warn({ err }, 'deleting old sent outbox rows failed'));
      }, 60_000);
      sweeper.unref();
      wake();
    },
    async stop() {
      clearInterval(timer);
      clearInterval(sweeper);
      timer = undefined;
      sweeper = undefined;
      await Promise.allSettled(running);
    },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    outboxRelay: Pick<OutboxRelay, 'wake'>;
  }
}

/**
 * The relay inside reservation-api: woken right after each commit (so an event leaves within a
 * round trip to SQS), polling as a fallback. With `queueUrl` unset it is off and `wake` does nothing.
 */
export const outboxRelay = fp<Omit<RelayOptions, 'pool' | 'log' | 'sqs'> & { sqs: SQSClient | undefined }>(
  async (app: FastifyInstance, { sqs, ...options }) => {
    if (!sqs || !options.queueUrl) {
      app.decorate('outboxRelay', { wake: () => undefined });
      return;
    }
    const relay = createOutboxRelay({ ...options, sqs, pool: app.db, log: app.log.child({ component: 'outbox-relay' }) });
    app.decorate('outboxRelay', relay);
    app.addHook('onReady', async () => relay.start());
    // Before the pool closes (onClose hooks run in reverse order of registration, and db came first).
    app.addHook('onClose', async () => relay.stop());
  },
  { name: 'outbox-relay', dependencies: ['db'] },
);
