import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeMessageBody, messageGroupId } from '@reservations/contracts';
import { type AwsHttpTimeouts, deleteInBatches, withTransaction } from '@reservations/service-kit';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxRelayConfig } from '../config.ts';
import { type OutboxRecord, toEnvelope } from '../domain/envelope.ts';
import { sendable } from '../domain/relay-order.ts';
import {
  afterFailedSend,
  afterPass,
  classifyEntryFailure,
  describeFailure,
  type EntryFailure,
  isMessageRefusal,
  nextChunk,
  type RelayHealth,
  withoutAggregate,
} from '../domain/relay-sending.ts';

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
  /**
   * How long a wake-up waits before its pass: the commits of that window go in one pass (one
   * claim, one SendMessageBatch, one mark) instead of a pass each. 0: at once.
   */
  wakeDelayMs?: number;
  /** Sent rows are deleted this long after sending (the history lives in the notifier's table). */
  retentionHours?: number;
  /**
   * Passes in flight at once in this process: while one waits on SQS, the next locks the rows
   * committed meanwhile (SKIP LOCKED keeps them apart, the order check keeps each aggregate in order).
   */
  concurrency?: number;
  /** A row whose sends failed this many times (SQS answering for it, but not accepting it) is parked. */
  maxAttempts?: number;
  /**
   * Longest a pass may take, from its claim to its commit: its SQS calls are aborted at this
   * deadline (what was accepted by then is marked, the rest stays unsent), and MariaDB ends the
   * transaction of a relay that stays idle in it a second longer (a frozen process), so no pass
   * holds its rows' locks past it.
   */
  passTimeoutMs?: number;
  /** Backoff after a failed pass: full jitter from this base, doubling per failure, up to `backoffMaxMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
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

type OutboxRow = RowDataPacket & OutboxRecord & { id: string; attempts: number };

/** What one pass did with the rows it could send. */
interface SendOutcome {
  sent: OutboxRow[];
  /** Rows SQS answered for without accepting them: each counts an attempt, or is parked. */
  failed: { row: OutboxRow; error: string; permanent: boolean }[];
  /** A call that failed as a whole (timeout, connection, 5xx, throttling): the rest of the pass waited. */
  callError?: unknown;
}

type Aggregate = { aggregate_type: string; aggregate_id: string };

/**
 * The aggregates with a parked row, and the claim of a pass: the next unsent rows in `id` order,
 * those aggregates' left out. Both name their index: statistics taken during a backlog (most rows
 * unsent) made MariaDB read the claim by the primary key in order, or intersect the unsent and
 * parked indexes, through every row already sent (17 ms a pass at 20,000 rows, against 0.3).
 */
export const relayReads = {
  parked: `SELECT DISTINCT aggregate_type, aggregate_id FROM outbox FORCE INDEX (outbox_parked)
           WHERE parked_at IS NOT NULL AND sent_at IS NULL`,
  claim: (parked: Aggregate[], batchSize: number) => ({
    sql: `SELECT id, event_id, aggregate_type, aggregate_id, type, version, payload, occurred_at, attempts
          FROM outbox FORCE INDEX (outbox_unsent)
          WHERE sent_at IS NULL AND parked_at IS NULL${
            parked.length > 0 ? ` AND (aggregate_type, aggregate_id) NOT IN (${parked.map(() => '(?, ?)').join(', ')})` : ''
          } ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
    values: [...parked.flatMap((p) => [p.aggregate_type, p.aggregate_id]), batchSize],
  }),
};

/**
 * The transactional outbox relay: locks the oldest unsent rows with
 * `FOR UPDATE SKIP LOCKED` (so relays in several replicas split the work and never send one row
 * in the same pass), sends them to the FIFO queue with the aggregate as message group and the
 * event id as deduplication id, stamps `sent_at`, and commits. A crash between the send and the
 * commit leaves the rows unsent: they are sent again (SQS drops the repeat within its 5-minute
 * deduplication window; the notifier deduplicates on the event id after that). Never lost.
 * A row SQS refuses (or fails `maxAttempts` times) is parked, and its aggregate's later rows wait
 * behind it while the others go on; a failing pass makes the relay back off (docs/events.md).
 */
export function createOutboxRelay({
  pool,
  sqs,
  queueUrl,
  registry,
  log,
  batchSize = 50,
  pollIntervalMs = 500,
  wakeDelayMs = 0,
  retentionHours = 168,
  concurrency = 1,
  maxAttempts = 10,
  passTimeoutMs = 15_000,
  backoffBaseMs = 500,
  backoffMaxMs = 30_000,
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
  const parkings = new Counter({
    name: 'outbox_rows_parked_total',
    help: 'outbox rows parked: refused by SQS, or failed OUTBOX_MAX_ATTEMPTS times',
    registers: [registry],
  });
  // Parked rows, and the later rows of their aggregates held behind them, are not lag: the relay is
  // not behind on them, it must not send them; outbox_parked_rows (and its alert) says so instead.
  new Gauge({
    name: 'outbox_lag_seconds',
    help: 'age of the oldest unsent outbox row the relay may send (0 when all are sent)',
    registers: [registry],
    async collect() {
      const [[row]] = await pool.query<RowDataPacket[]>(
        `SELECT TIMESTAMPDIFF(MICROSECOND, MIN(o.occurred_at), NOW(6)) AS lag FROM outbox o
         WHERE o.sent_at IS NULL AND o.parked_at IS NULL AND NOT EXISTS (
           SELECT 1 FROM outbox p WHERE p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id
             AND p.parked_at IS NOT NULL AND p.sent_at IS NULL)`,
      );
      this.set(row?.lag == null ? 0 : Math.max(0, Number(row.lag)) / 1e6);
    },
  });
  new Gauge({
    name: 'outbox_parked_rows',
    help: 'outbox rows parked now (each holds back the later events of its aggregate)',
    registers: [registry],
    async collect() {
      const [[row]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL');
      this.set(Number(row?.n ?? 0));
    },
  });

  /** One SendMessageBatch; its Failed entries come back, a failure of the call itself throws. */
  async function sendBatch(chunk: OutboxRow[], signal: AbortSignal): Promise<(EntryFailure & { Id: string })[]> {
    const entries = chunk.map((row) => {
      const envelope = toEnvelope(row);
      return {
        Id: row.id,
        MessageBody: encodeMessageBody(envelope),
        MessageGroupId: messageGroupId(envelope),
        MessageDeduplicationId: envelope.eventId,
      };
    });
    const stopTimer = sendDuration.startTimer();
    const result = await sqs
      .send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: signal })
      .finally(stopTimer);
    return (result.Failed ?? []).map((f) => ({ ...f, Id: f.Id ?? '' }));
  }

  /**
   * Sends `rows` (id order) in calls of at most 10, one row per aggregate per call, and stops an
   * aggregate at its first failed row: its later rows wait (unsent) so they never overtake it.
   * A call SQS refuses for what a message is goes again entry by entry, to find that message.
   * A call that fails otherwise ends the sending: SQS is unwell, and the pass backs off.
   */
  async function send(rows: OutboxRow[], signal: AbortSignal): Promise<SendOutcome> {
    const outcome: SendOutcome = { sent: [], failed: [] };
    let pending = rows;
    let perCall = SQS_BATCH;
    while (pending.length > 0) {
      const chunk = nextChunk(pending, perCall);
      let failures: (EntryFailure & { Id: string })[];
      try {
        failures = await sendBatch(chunk, signal);
      } catch (err) {
        if (!isMessageRefusal(err)) {
          // The SDK's AbortError says less than why the pass gave up.
          outcome.callError = signal.aborted ? signal.reason : err;
          return outcome;
        }
        if (chunk.length > 1) {
          // SQS refused the call for one of its messages without saying which: one per call for the rest of the pass.
          perCall = 1;
          continue;
        }
        const { Code, name, message } = err as Error & { Code?: string };
        failures = [{ Id: (chunk[0] as OutboxRow).id, Code: Code ?? name, Message: message, SenderFault: true }];
      }
      const inChunk = new Set(chunk);
      pending = pending.filter((r) => !inChunk.has(r));
      const failedIds = new Map(failures.map((f) => [f.Id, f]));
      for (const row of chunk) {
        const failure = failedIds.get(row.id);
        if (!failure) {
          outcome.sent.push(row);
          continue;
        }
        outcome.failed.push({ row, error: describeFailure(failure), permanent: classifyEntryFailure(failure) === 'permanent' });
        pending = withoutAggregate(pending, row);
      }
    }
    return outcome;
  }

  // MariaDB ends a transaction left idle this long (its connection is killed, its locks freed): a pass
  // aborts its SQS calls at passTimeoutMs, so only a relay that stopped running (frozen, cut off) gets here.
  const idleTransactionSeconds = Math.ceil(passTimeoutMs / 1000) + 1;

  /**
   * Starts the pass's transaction, in the same round trip as the (non-locking) read of the
   * aggregates with a parked row: none of their rows is claimed until it is un-parked, so they
   * neither overtake it nor fill every claim's LIMIT.
   */
  async function begin(conn: PoolConnection): Promise<Aggregate[]> {
    const [results] = (await conn.query(
      `${relayReads.parked};
       SET SESSION idle_transaction_timeout = ${idleTransactionSeconds}; START TRANSACTION`,
    )) as unknown as [[Aggregate[], ...unknown[]]];
    return results[0];
  }

  interface PassResult {
    sent: OutboxRow[];
    parked: { row: OutboxRow; error: string }[];
    /** Rows SQS answered for without accepting them, that have attempts left. */
    retried: { row: OutboxRow; error: string }[];
    callError?: unknown;
    full: boolean;
    /** The marks, sent with COMMIT. */
    marks?: { sql: string; values: unknown[] };
  }

  /** One transaction: claim, send, mark (sent, or one more attempt, or parked), commit: four round trips to MariaDB. */
  async function pass(): Promise<PassResult> {
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(new Error(`the relay pass took longer than ${passTimeoutMs} ms`)), passTimeoutMs);
    try {
      return await withTransaction<PassResult, Aggregate[]>(
        pool,
        async (conn: PoolConnection, parked) => {
          try {
            return await claimAndSend(conn, parked, controller.signal);
          } catch (err) {
            // The connection goes back to the pool: it must not keep the relay's idle limit.
            await conn.query('SET SESSION idle_transaction_timeout = DEFAULT').catch(() => undefined);
            throw err;
          }
        },
        {
          begin,
          commitWith: (result) => {
            const reset = 'SET SESSION idle_transaction_timeout = DEFAULT';
            return result.marks ? { sql: `${result.marks.sql}; ${reset}`, values: result.marks.values } : { sql: reset };
          },
        },
      );
    } finally {
      clearTimeout(deadline);
    }
  }

  async function claimAndSend(conn: PoolConnection, parked: Aggregate[], signal: AbortSignal): Promise<PassResult> {
    const claim = relayReads.claim(parked, batchSize);
    const [locked] = await conn.query<OutboxRow[]>(
      `SET STATEMENT max_statement_time = ${passTimeoutMs / 1000} FOR ${claim.sql}`,
      claim.values,
    );
    const nothing: PassResult = { sent: [], parked: [], retried: [], full: false };
    if (locked.length === 0) return nothing;
    // Only an aggregate with a row past its first event (version 1, its creation) can have an
    // earlier row another relay holds: a pass of bookings alone needs no check. Both columns of
    // outbox_aggregate as IN lists, so the lookup is an index range, not a scan.
    const ids = [...new Set(locked.filter((r) => Number(r.version) > 1).map((r) => r.aggregate_id))];
    const [unsent] =
      ids.length === 0
        ? [[] as OutboxRow[]]
        : await conn.query<OutboxRow[]>(
            `SELECT id, aggregate_type, aggregate_id FROM outbox
             WHERE aggregate_type IN ('reservation', 'resource') AND aggregate_id IN (${ids.map(() => '?').join(', ')}) AND sent_at IS NULL`,
            ids,
          );
    const rows = sendable(locked, unsent);
    if (rows.length === 0) return nothing;
    const outcome = await send(rows, signal);
    const result: PassResult = { ...nothing, sent: outcome.sent, callError: outcome.callError, full: locked.length === batchSize };
    const statements: string[] = [];
    const values: unknown[] = [];
    if (outcome.sent.length > 0) {
      statements.push(`UPDATE outbox SET sent_at = NOW(6) WHERE id IN (${outcome.sent.map(() => '?').join(', ')})`);
      values.push(...outcome.sent.map((r) => r.id));
    }
    for (const { row, error, permanent } of outcome.failed) {
      const { attempts, park } = afterFailedSend(Number(row.attempts), permanent, maxAttempts);
      statements.push(`UPDATE outbox SET attempts = ?, last_error = ?, parked_at = ${park ? 'NOW(6)' : 'NULL'} WHERE id = ?`);
      values.push(attempts, error, row.id);
      (park ? result.parked : result.retried).push({ row, error });
    }
    if (statements.length > 0) result.marks = { sql: statements.join('; '), values };
    return result;
  }

  /** After the commit: metrics, and a line per parked row (a row's change of state). */
  function account(result: PassResult): void {
    const now = Date.now();
    for (const row of result.sent) sendLag.observe(Math.max(0, now - row.occurred_at.getTime()) / 1000);
    if (result.sent.length > 0) {
      sent.inc(result.sent.length);
      batchSizes.observe(result.sent.length);
    }
    for (const { row, error } of result.parked) {
      parkings.inc();
      log.warn(
        { outboxId: row.id, eventId: row.event_id, aggregate: `${row.aggregate_type}:${row.aggregate_id}`, error },
        'outbox row parked: it is kept unsent and the later events of its aggregate wait behind it until it is un-parked',
      );
    }
  }

  const running = new Set<Promise<number>>();
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let health: RelayHealth = { failures: 0 };
  let backingOff: NodeJS.Timeout | undefined;
  let gathering: NodeJS.Timeout | undefined;

  async function runPasses(): Promise<number> {
    let total = 0;
    do {
      again = false;
      for (;;) {
        const result = await pass();
        account(result);
        total += result.sent.length;
        if (result.callError !== undefined) throw result.callError;
        if (result.retried.length > 0) {
          throw new Error(`SQS did not accept ${result.retried.map(({ row, error }) => `outbox row ${row.id} (${error})`).join('; ')}`);
        }
        if (!result.full || result.sent.length + result.parked.length === 0) break;
      }
    } while (again);
    return total;
  }

  /** One log line per change of state: failing (with the error), then recovered; between them, backoff. */
  function settle(ok: boolean, err?: unknown): void {
    const now = Date.now();
    const change = afterPass(health, ok, now, { baseMs: backoffBaseMs, maxMs: backoffMaxMs });
    if (change.transition === 'failing') {
      log.warn({ err }, 'outbox relay passes are failing: unsent rows wait in the outbox, retried with backoff');
    } else if (change.transition === 'recovered') {
      log.info(
        { failedPasses: health.failures, outageMs: now - (health.since ?? now) },
        'outbox relay passes succeed again: sending what waited',
      );
    }
    health = change.health;
    if (change.delayMs > 0) {
      clearTimeout(backingOff);
      backingOff = setTimeout(() => {
        backingOff = undefined;
        wake();
      }, change.delayMs);
      backingOff.unref();
    }
  }

  /** Starts a pass loop if fewer than `concurrency` run; otherwise asks a running one to go round again. */
  function drain(): Promise<number> {
    if (running.size >= concurrency) {
      again = true;
      return Promise.all(running).then((sent) => sent.reduce((a, b) => a + b, 0));
    }
    const loop = runPasses()
      .then(
        (n) => {
          settle(true);
          return n;
        },
        (err: unknown) => {
          errors.inc();
          settle(false, err);
          throw err;
        },
      )
      .finally(() => running.delete(loop));
    running.add(loop);
    return loop;
  }

  /**
   * A pass soon (after `wakeDelayMs`, with whatever else commits meanwhile), unless the relay is
   * backing off after a failure (its timer runs the next pass then).
   */
  function wake(): void {
    if (backingOff || gathering) return;
    if (wakeDelayMs === 0) {
      drain().catch(() => undefined); // settle logged it
      return;
    }
    gathering = setTimeout(() => {
      gathering = undefined;
      drain().catch(() => undefined);
    }, wakeDelayMs);
    gathering.unref();
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
      clearTimeout(backingOff);
      clearTimeout(gathering);
      gathering = undefined;
      timer = undefined;
      sweeper = undefined;
      backingOff = undefined;
      await Promise.allSettled(running);
    },
  };
}

/** The relay's settings, the same in the API and in `src/relay.ts`. */
export function relayOptions(config: OutboxRelayConfig) {
  return {
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
    wakeDelayMs: config.OUTBOX_WAKE_DELAY_MS,
    retentionHours: config.OUTBOX_RETENTION_HOURS,
    concurrency: config.OUTBOX_RELAY_CONCURRENCY,
    maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
    passTimeoutMs: config.OUTBOX_PASS_TIMEOUT_MS,
    backoffBaseMs: config.OUTBOX_BACKOFF_BASE_MS,
    backoffMaxMs: config.OUTBOX_BACKOFF_MAX_MS,
  };
}

export function sqsTimeouts(config: Pick<OutboxRelayConfig, 'SQS_CONNECTION_TIMEOUT_MS' | 'SQS_REQUEST_TIMEOUT_MS'>): AwsHttpTimeouts {
  return { connectionTimeoutMs: config.SQS_CONNECTION_TIMEOUT_MS, requestTimeoutMs: config.SQS_REQUEST_TIMEOUT_MS };
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
