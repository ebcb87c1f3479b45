import { setTimeout as sleep } from 'node:timers/promises';
import type { Notification } from '@reservations/contracts';
import { timeoutSignal, withTransaction } from '@reservations/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { Counter, Histogram, type Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { type Admission, CircuitBreaker, type Transition } from '../domain/circuit-breaker.ts';
import { type SecretColumns, signingSecrets } from '../domain/endpoint-secrets.ts';
import { PrivateAddressError, privateHostReason, publicOnlyLookup } from '../domain/public-address.ts';
import { retryDelay } from '../domain/retries.ts';
import type { KeyRing } from '../domain/secret-box.ts';
import { signedHeaders } from '../domain/signature.ts';
import { secretColumnsOf, secretColumnsSql } from '../infra/secret-store.ts';

export interface DelivererOptions {
  pool: Pool;
  registry: Registry;
  log: FastifyBaseLogger;
  /** The KEKs that open the endpoints' sealed secrets. */
  secretKeys: KeyRing;
  timeoutMs: number;
  /** Send to loopback and private addresses too (local development and tests); never otherwise. */
  allowPrivateAddresses: boolean;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  concurrency: number;
  /** POSTs in flight to one provider, out of `concurrency`: a slow endpoint cannot take every slot. */
  concurrencyPerProvider: number;
  pollIntervalMs: number;
  /** Consecutive failures (timeouts, connection errors, 5xx) that open an endpoint's breaker. */
  breakerFailures: number;
  /** How long an open breaker keeps its endpoint's deliveries waiting before one trial (plus up to half of it, at random). */
  breakerCoolDownMs: number;
  /** How long a claim holds a delivery before another deliverer may take it (a crashed one's claims come back). */
  leaseMs: number;
  /** How long a delivery's mark waits for others, so one transaction records them together (0: at once). */
  markDelayMs?: number;
  random?: () => number;
  now?: () => number;
}

type DeliveryRow = RowDataPacket & {
  event_id: string;
  provider_id: string;
  reservation_id: string;
  attempts: number;
  url: string | null;
  type: string;
  version: number;
  occurred_at: Date;
  payload: unknown;
};

/** A delivery's outcome, waiting for the transaction that records it with others. */
interface Mark {
  eventId: string;
  reservationId: string;
  state: 'delivered' | 'failed';
  attempts: number;
  status: number | null;
  error: string | null;
}

/** Marks one transaction records at most (the bound of its `IN` lists). */
const MARKS_PER_TRANSACTION = 100;

/** What an attempt told its endpoint's breaker. */
interface Verdict {
  /** The half-open breaker's one trial. */
  trial: boolean;
  /** It reached the endpoint (or failed to), and the breaker has its result. */
  judged: boolean;
  /** The breaker changed state on it. */
  changed: boolean;
}

/** A pending delivery, ready to POST. */
export interface Delivery {
  eventId: string;
  providerId: string;
  reservationId: string;
  /** Attempts made so far. */
  attempts: number;
  url: string | null;
  /** The endpoint's secrets as stored (sealed): opened when the POST is signed, so an overlap that ended meanwhile is honoured. */
  secrets: SecretColumns | null;
  notification: Notification;
}

/**
 * Webhook deliveries from `webhook_deliveries`: a due row is claimed (its `next_attempt_at` moved
 * past a lease, `FOR UPDATE SKIP LOCKED` so replicas split the rows), POSTed signed, then marked
 * delivered, or rescheduled with exponential backoff and full jitter, or failed after
 * `maxAttempts`. A reservation's deliveries go one at a time in version order: a row is claimed
 * only when it is its reservation's earliest pending version. A provider has at most
 * `concurrencyPerProvider` POSTs in flight: its other due rows stay due in the table (claims skip
 * them) until one of its POSTs ends, so other providers' deliveries never wait behind a slow
 * endpoint. Each provider's endpoint has a circuit breaker (in this process): while it is open
 * its deliveries are not attempted but pushed to the end of the cool-down, attempts untouched;
 * then one trial decides. Marks (delivered, failed) gather for `markDelayMs` and commit together,
 * each with its reservation's next event made due. A crash after the POST and before the mark
 * repeats the POST: receivers deduplicate on `webhook-id` (the event id).
 */
export function createWebhookDeliverer(options: DelivererOptions) {
  const {
    pool,
    log,
    secretKeys,
    timeoutMs,
    allowPrivateAddresses,
    retryBaseMs,
    retryMaxMs,
    maxAttempts,
    concurrency,
    concurrencyPerProvider,
    pollIntervalMs,
    breakerFailures,
    breakerCoolDownMs,
    leaseMs,
    markDelayMs = 0,
  } = options;
  // Every connection's addresses are checked as it is made (a provider's name could point at the
  // cluster, the VPC or the cloud's metadata service); an IP literal is checked before, since a
  // socket to one makes no lookup.
  const dispatcher = allowPrivateAddresses ? new Agent() : new Agent({ connect: { lookup: publicOnlyLookup } });
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const results = new Counter({
    name: 'webhook_deliveries_total',
    help: 'webhook attempts by result: delivered, retry (will be tried again), failed (gave up)',
    labelNames: ['result'] as const,
    registers: [options.registry],
  });
  const duration = new Histogram({
    name: 'webhook_delivery_duration_seconds',
    help: 'time of one webhook POST',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [options.registry],
  });
  const skipped = new Counter({
    name: 'webhook_deliveries_skipped_total',
    help: "webhook attempts not made because the endpoint's breaker was open; each waits for the end of the cool-down",
    registers: [options.registry],
  });
  const breakerChanges = new Counter({
    name: 'webhook_breaker_transitions_total',
    help: 'webhook endpoint breakers changing state, by the state entered: open, half_open, closed',
    labelNames: ['state'] as const,
    registers: [options.registry],
  });
  const markBatches = new Histogram({
    name: 'webhook_mark_batch_size',
    help: 'deliveries marked (delivered or failed) per transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers: [options.registry],
  });
  const inFlight = new Set<Promise<void>>();
  /** Marks waiting for their transaction; the timer that gathers them; the transaction under way. */
  const marks: Mark[] = [];
  let gathering: NodeJS.Timeout | undefined;
  let marking: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let pollAgain = false;
  let stopped = false;
  /** The last claim may have left due rows behind: it had room for fewer than were due. */
  let roomWasShort = false;
  /** POSTs in flight per provider (absent: none). */
  const providerLoad = new Map<string, number>();
  /** Providers that may have due rows left behind for want of their own room: one of their POSTs ending claims again. */
  const starved = new Set<string>();
  const loadOf = (providerId: string) => providerLoad.get(providerId) ?? 0;
  /** Writes that hand a fast-path delivery back to the table: stop() waits for them too. */
  const releases = new Set<Promise<unknown>>();
  /**
   * Per provider, the breaker of its endpoint (the URL it was kept for). Absent: closed with no
   * failure on record. In memory: each replica judges an endpoint by its own attempts.
   */
  const breakers = new Map<string, { url: string; breaker: CircuitBreaker }>();
  /** No room for another POST to the provider now: its share is taken, or its breaker's trial is under way. */
  const busy = (providerId: string) =>
    loadOf(providerId) >= concurrencyPerProvider || breakers.get(providerId)?.breaker.trialUnderWay === true;

  /** One log line per state change (a line per delivery would bury everything else while an endpoint is down). */
  function announce(providerId: string, url: string, { to, failures, untilMs }: Transition, why?: string): void {
    breakerChanges.inc({ state: to.replace('-', '_') });
    let endpoint = url;
    try {
      endpoint = new URL(url).origin; // not its path or query, which may hold a token of the provider's
    } catch {}
    if (to === 'open') {
      log.warn(
        { providerId, endpoint, failures, retryInMs: (untilMs ?? now()) - now() },
        'webhook endpoint failing: breaker open, its deliveries wait for the cool-down',
      );
    } else if (to === 'half-open') log.info({ providerId, endpoint }, 'webhook endpoint breaker half-open: one trial delivery');
    else log.info({ providerId, endpoint, ...(why ? { why } : {}) }, 'webhook endpoint breaker closed');
  }

  /** The breaker of the provider's endpoint at `url`: one kept for another URL goes (the endpoint changed; its record says nothing of the new one). */
  function breakerAt(providerId: string, url: string | null): CircuitBreaker | undefined {
    const entry = breakers.get(providerId);
    if (!entry || entry.url === url) return entry?.breaker;
    breakers.delete(providerId);
    if (entry.breaker.state !== 'closed') {
      announce(providerId, entry.url, { from: entry.breaker.state, to: 'closed', failures: 0 }, 'the endpoint changed');
    }
    return undefined;
  }

  function admit(breaker: CircuitBreaker | undefined, providerId: string, url: string): Admission {
    if (!breaker) return { go: true, trial: false };
    const { admission, transition } = breaker.admit();
    if (transition) announce(providerId, url, transition);
    return admission;
  }

  /** An attempt's result, for its endpoint's breaker; true when that changed its state. */
  function judge(providerId: string, url: string, failed: boolean, trial: boolean): boolean {
    let breaker = breakerAt(providerId, url);
    if (!breaker) {
      if (!failed) return false;
      breaker = new CircuitBreaker({ failureThreshold: breakerFailures, coolDownMs: breakerCoolDownMs }, now, random);
      breakers.set(providerId, { url, breaker });
    }
    const transition = breaker.record(failed ? 'failure' : 'success', trial);
    if (transition) announce(providerId, url, transition);
    if (breaker.idle) breakers.delete(providerId);
    return transition !== undefined;
  }

  async function load(eventId: string): Promise<Delivery | undefined> {
    const [[row]] = await pool.query<DeliveryRow[]>(
      `SELECT d.event_id, d.provider_id, d.reservation_id, d.attempts, w.url, ${secretColumnsSql('w')}, h.type, h.version, h.occurred_at, h.payload
       FROM webhook_deliveries d JOIN event_history h ON h.event_id = d.event_id
       LEFT JOIN webhook_endpoints w ON w.provider_id = d.provider_id
       WHERE d.event_id = ? AND d.state = 'pending'`,
      [eventId],
    );
    if (!row) return undefined; // delivered meanwhile by a deliverer whose lease we outlived
    return {
      eventId: row.event_id,
      providerId: row.provider_id,
      reservationId: row.reservation_id,
      attempts: Number(row.attempts),
      url: row.url,
      secrets: secretColumnsOf(row),
      notification: {
        eventId: row.event_id,
        type: row.type,
        version: Number(row.version),
        occurredAt: row.occurred_at.toISOString(),
        reservation: typeof row.payload === 'string' ? JSON.parse(row.payload) : (row.payload as Notification['reservation']),
      },
    };
  }

  /**
   * One attempt at `eventId`'s delivery: as `known` (the fast path has it at hand) or as read now.
   * Over when the POST is: its mark is written with the next batch.
   */
  async function attempt(eventId: string, known: Delivery | undefined, verdict: Verdict): Promise<void> {
    const delivery = known ?? (await load(eventId));
    if (!delivery) return;
    const { url, notification } = delivery;
    const attempts = delivery.attempts + 1;
    if (!url || !delivery.secrets) {
      return finish(delivery, attempts, 'failed', null, 'the provider has no webhook endpoint any more');
    }
    let secrets: string[];
    try {
      secrets = signingSecrets(secretKeys, delivery.providerId, delivery.secrets, new Date(now()));
    } catch (err) {
      // Not sent unsigned: a KEK missing from the configuration is a mistake an SRE can undo in time.
      const error = `the endpoint's secret does not open: ${(err as Error).message}`;
      log.error({ eventId, providerId: delivery.providerId, error }, 'webhook delivery cannot be signed');
      if (attempts >= maxAttempts) return finish(delivery, attempts, 'failed', null, error);
      return reschedule(eventId, attempts, null, error);
    }
    const body = JSON.stringify(notification);
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    const call = timeoutSignal(timeoutMs);
    try {
      const refused = allowPrivateAddresses ? undefined : privateHostReason(new URL(url));
      if (refused) throw new PrivateAddressError(`${refused}; webhooks go to public addresses only`);
      // undici's request, not fetch: the same connection pool without WHATWG streams and
      // Response objects, which were a sixth of the notifier's CPU. It follows no redirect.
      const response = await request(url, {
        dispatcher,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'reservations-notifier',
          ...signedHeaders(secrets, eventId, body, new Date(now())),
        },
        body,
        signal: call.signal,
      });
      status = response.statusCode;
      await response.body.dump(); // read to its end (or dropped past undici's limit) within the call's signal, like the headers
      if (status < 200 || status >= 300) error = `the receiver answered ${status}`;
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}` : String(err);
    } finally {
      call.clear();
    }
    duration.observe((performance.now() - started) / 1000);
    // An answer other than a 5xx shows the endpoint up, even when it refuses this delivery.
    verdict.changed = judge(delivery.providerId, url, error !== null && (status === null || status >= 500), verdict.trial);
    verdict.judged = true;
    if (!error) return finish(delivery, attempts, 'delivered', status, null);
    if (attempts >= maxAttempts) return finish(delivery, attempts, 'failed', status, error);
    return reschedule(eventId, attempts, status, error);
  }

  /** Records the outcome with the next batch of marks; the attempt is over for its slots. */
  function finish(
    { eventId, reservationId }: Delivery,
    attempts: number,
    state: 'delivered' | 'failed',
    status: number | null,
    error: string | null,
  ): void {
    marks.push({ eventId, reservationId, state, attempts, status, error: error?.slice(0, 500) ?? null });
    scheduleMarks();
  }

  /** The next transaction of marks: at once when stopping, unwanted or full, else after `markDelayMs`. */
  function scheduleMarks(): void {
    if (marking || marks.length === 0) return;
    if (stopped || markDelayMs === 0 || marks.length >= MARKS_PER_TRANSACTION) void writeMarks();
    else gathering ??= setTimeout(writeMarks, markDelayMs);
  }

  /**
   * One transaction for the marks gathered so far (and another after it for any that came
   * meanwhile). Each mark goes with its reservation's next event made due, in the same
   * transaction: a claim that takes that next row meanwhile finds this one still pending and
   * leaves it blocked, which this then makes due. Committed apart, a claim could lease it between
   * the two (the mark visible) and the second statement undo that lease while its POST is in
   * flight, so another claim POSTed it again.
   */
  function writeMarks(): Promise<void> {
    clearTimeout(gathering);
    gathering = undefined;
    const batch = marks.splice(0, MARKS_PER_TRANSACTION);
    // Marks that share an outcome (every success of a first attempt, say) share a statement.
    const outcomes = new Map<string, Mark[]>();
    for (const mark of batch) {
      const key = JSON.stringify([mark.state, mark.attempts, mark.status, mark.error]);
      const group = outcomes.get(key);
      if (group) group.push(mark);
      else outcomes.set(key, [mark]);
    }
    const reservations = [...new Set(batch.map((m) => m.reservationId))];
    const inReservations = reservations.map(() => '?').join(', ');
    const sql = [
      'START TRANSACTION',
      ...[...outcomes.values()].map(
        (group) =>
          `UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ?,
             delivered_at = IF(? = 'delivered', NOW(6), NULL) WHERE event_id IN (${group.map(() => '?').join(', ')})`,
      ),
      // Each reservation's earliest pending delivery, the one that waited for these.
      `UPDATE webhook_deliveries SET next_attempt_at = NOW(6)
       WHERE reservation_id IN (${inReservations}) AND state = 'pending' AND (reservation_id, version) IN (
         SELECT reservation_id, MIN(version) FROM webhook_deliveries
         WHERE reservation_id IN (${inReservations}) AND state = 'pending' GROUP BY reservation_id)`,
    ].join(';\n');
    const values = [
      ...[...outcomes.values()].flatMap((group) => {
        const [{ state, attempts, status, error }] = group as [Mark];
        return [state, attempts, status, error, state, ...group.map((m) => m.eventId)];
      }),
      ...reservations,
      ...reservations,
    ];
    marking = withTransaction(pool, async (_conn, madeDue: number) => madeDue, {
      begin: async (conn) => {
        // One answer per statement; the last is the one that made next events due.
        const [answers] = (await conn.query(sql, values)) as unknown as [ResultSetHeader[]];
        return answers.at(-1)?.affectedRows ?? 0;
      },
    })
      .then((madeDue) => {
        markBatches.observe(batch.length);
        for (const { state, eventId, attempts, status, error } of batch) {
          results.inc({ result: state });
          if (state === 'failed') log.warn({ eventId, attempts, status, error }, 'webhook delivery failed for good');
        }
        // A claim now only if there is something to claim: a next event just made due, or due
        // rows a claim left for lack of room. Claiming after every delivery ran a claim
        // transaction per webhook that found nothing (the fast path claims its rows itself).
        if (madeDue > 0 || roomWasShort) poll();
      })
      .catch((err: unknown) =>
        log.warn({ err, deliveries: batch.length }, 'webhook deliveries could not be marked; their leases bring them back'),
      )
      .finally(() => {
        marking = undefined;
        scheduleMarks();
      });
    return marking;
  }

  async function reschedule(eventId: string, attempts: number, status: number | null, error: string) {
    const delayMs = retryDelay(attempts, retryBaseMs, retryMaxMs, random);
    await pool.query(
      `UPDATE webhook_deliveries SET attempts = ?, last_status = ?, last_error = ?, next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND
       WHERE event_id = ?`,
      [attempts, status, error.slice(0, 500), delayMs * 1000, eventId],
    );
    results.inc({ result: 'retry' });
    log.info({ eventId, attempts, status, error, retryInMs: delayMs }, 'webhook delivery failed; retrying');
  }

  function run(eventId: string, providerId: string, known: Delivery | undefined, trial: boolean): void {
    providerLoad.set(providerId, loadOf(providerId) + 1);
    const verdict: Verdict = { trial, judged: false, changed: false };
    const task = attempt(eventId, known, verdict)
      .catch((err: unknown) => log.warn({ err, eventId }, 'webhook attempt could not be recorded; the lease brings it back'))
      .finally(() => {
        inFlight.delete(task);
        const load = loadOf(providerId) - 1;
        if (load > 0) providerLoad.set(providerId, load);
        else providerLoad.delete(providerId);
        // A trial that never reached the endpoint (the delivery was gone) decided nothing.
        if (trial && !verdict.judged) breakers.get(providerId)?.breaker.abandon(true);
        // After the slot is given back, so the claim counts it free. A provider's rows left due
        // for want of its own room go as soon as one of its POSTs ends; a breaker that changed
        // state has rows to let go (closed) or to push back (open again).
        if (starved.delete(providerId) || verdict.changed) poll();
      });
    inFlight.add(task);
  }

  /**
   * Hands a delivery this process claimed but will not start now back to the table, due in
   * `delayMs`, for whichever deliverer has room then (this one claims it when the provider's next
   * POST ends).
   */
  function release(eventId: string, providerId: string, delayMs: number): void {
    const write = pool
      .query("UPDATE webhook_deliveries SET next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE event_id = ? AND state = 'pending'", [
        Math.max(0, Math.round(delayMs * 1000)),
        eventId,
      ])
      .then(() => {
        if (delayMs > 0) return;
        // A POST of the provider may have ended while this was written: its claim did not see the row.
        if (busy(providerId)) starved.add(providerId);
        else poll();
      })
      .catch((err: unknown) => log.warn({ err, eventId }, 'webhook delivery could not be handed back; its lease brings it back'))
      .finally(() => releases.delete(write));
    releases.add(write);
  }

  /** Claims due rows (as many as free slots, within each provider's room) and starts them. */
  async function claim(): Promise<number> {
    const free = concurrency - inFlight.size;
    if (stopped) return 0;
    if (free <= 0) {
      roomWasShort = true;
      return 0;
    }
    // Rows of a provider with no room left are not even read: enough of them would fill every
    // claim's LIMIT and starve the other providers.
    const full = [...new Set([...providerLoad.keys(), ...breakers.keys()])].filter(busy);
    /** Trials admitted by the claim's transaction: given back if it does not commit. */
    const trials: string[] = [];
    let deferredCount = 0;
    const giveBackTrials = () => {
      for (const providerId of trials.splice(0)) breakers.get(providerId)?.breaker.abandon(true);
    };
    const picked = await withTransaction(pool, async (conn) => {
      giveBackTrials(); // a deadlock's retry decides again
      deferredCount = 0;
      const [due] = await conn.query<RowDataPacket[]>(
        `SELECT event_id, provider_id, reservation_id, version FROM webhook_deliveries
         WHERE state = 'pending' AND next_attempt_at <= NOW(6)${full.length ? ` AND provider_id NOT IN (${full.map(() => '?').join(', ')})` : ''}
         ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED`,
        [...full, free],
      );
      roomWasShort = due.length === free;
      if (due.length === 0) return [];
      // A plain (non-locking) read of what is pending: a row another deliverer has locked still
      // counts here, where the locking read above would have skipped it.
      const reservations = [...new Set(due.map((r) => r.reservation_id as string))];
      const [firsts] = await conn.query<RowDataPacket[]>(
        `SELECT reservation_id, MIN(version) AS version FROM webhook_deliveries
         WHERE state = 'pending' AND reservation_id IN (${reservations.map(() => '?').join(', ')}) GROUP BY reservation_id`,
        reservations,
      );
      const first = new Map(firsts.map((r) => [r.reservation_id as string, Number(r.version)]));
      const firstOnes = due.filter((r) => first.get(r.reservation_id) === Number(r.version));
      // A breaker kept for a URL the provider has since changed no longer applies: the current
      // endpoints of the providers whose breaker is not closed (a plain read; rarely any).
      const suspects = [...new Set(firstOnes.map((r) => r.provider_id as string))].filter(
        (providerId) => (breakers.get(providerId)?.breaker.state ?? 'closed') !== 'closed',
      );
      if (suspects.length) {
        const [endpoints] = await conn.query<RowDataPacket[]>(
          `SELECT provider_id, url FROM webhook_endpoints WHERE provider_id IN (${suspects.map(() => '?').join(', ')})`,
          suspects,
        );
        const urls = new Map(endpoints.map((r) => [r.provider_id as string, r.url as string]));
        for (const providerId of suspects) breakerAt(providerId, urls.get(providerId) ?? null);
      }
      // Within each provider's room, in due order; the rest stay due, claimed when one of the
      // provider's POSTs ends (or by another deliverer with room). An open breaker's rows wait
      // for the end of its cool-down, their attempts untouched.
      const taken = new Map<string, number>();
      const started: { eventId: string; providerId: string; trial: boolean }[] = [];
      const deferred = new Map<number, string[]>();
      for (const r of firstOnes) {
        const providerId = r.provider_id as string;
        const load = loadOf(providerId) + (taken.get(providerId) ?? 0);
        if (load >= concurrencyPerProvider) {
          starved.add(providerId);
          continue;
        }
        const entry = breakers.get(providerId);
        const admission = admit(entry?.breaker, providerId, entry?.url ?? '');
        if (!admission.go) {
          if (admission.untilMs === undefined) starved.add(providerId);
          else deferred.set(admission.untilMs, [...(deferred.get(admission.untilMs) ?? []), r.event_id as string]);
          continue;
        }
        if (admission.trial) trials.push(providerId);
        taken.set(providerId, (taken.get(providerId) ?? 0) + 1);
        started.push({ eventId: r.event_id as string, providerId, trial: admission.trial });
      }
      for (const [untilMs, ids] of deferred) {
        await conn.query(
          `UPDATE webhook_deliveries SET next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE event_id IN (${ids.map(() => '?').join(', ')})`,
          [Math.max(0, Math.round((untilMs - now()) * 1000)), ...ids],
        );
        deferredCount += ids.length;
      }
      const claimed = started.map((r) => r.eventId);
      const blocked = due.filter((r) => first.get(r.reservation_id) !== Number(r.version)).map((r) => r.event_id as string);
      // Out of the way until their predecessor finishes (which makes the next one due at once),
      // so they don't fill every claim's LIMIT meanwhile.
      if (blocked.length) {
        await conn.query(
          `UPDATE webhook_deliveries SET next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE event_id IN (${blocked.map(() => '?').join(', ')})`,
          [leaseMs * 1000, ...blocked],
        );
      }
      if (claimed.length) {
        await conn.query(
          `UPDATE webhook_deliveries SET next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE event_id IN (${claimed.map(() => '?').join(', ')})`,
          [leaseMs * 1000, ...claimed],
        );
      }
      return started;
    }).catch((err: unknown) => {
      giveBackTrials();
      throw err;
    });
    if (deferredCount) skipped.inc(deferredCount);
    for (const { eventId, providerId, trial } of picked) run(eventId, providerId, undefined, trial);
    // Rows pushed back past an open breaker made room in the LIMIT: worth claiming again.
    return picked.length + deferredCount;
  }

  function poll(): void {
    if (stopped) return;
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = (async () => {
      do {
        pollAgain = false;
        while ((await claim()) > 0 && inFlight.size < concurrency) {
          // keep claiming while there is work and room
        }
      } while (pollAgain);
    })()
      .catch((err: unknown) => log.warn({ err }, 'claiming due webhook deliveries failed'))
      .finally(() => {
        polling = undefined;
      });
  }

  return {
    /**
     * The fast path: a delivery this process claimed in the transaction that created it, with
     * what that transaction knew (so it is not read back).
     */
    deliverClaimed(delivery: Delivery): void {
      if (stopped) return;
      const { eventId, providerId, url } = delivery;
      if (loadOf(providerId) >= concurrencyPerProvider) {
        release(eventId, providerId, 0);
        return;
      }
      const admission = admit(breakerAt(providerId, url), providerId, url ?? '');
      if (!admission.go) {
        if (admission.untilMs !== undefined) skipped.inc();
        release(eventId, providerId, admission.untilMs === undefined ? 0 : admission.untilMs - now());
        return;
      }
      run(eventId, providerId, delivery, admission.trial);
    },
    poll,
    start(): void {
      stopped = false;
      timer ??= setInterval(poll, pollIntervalMs);
      timer.unref();
      poll();
    },
    /** Stops claiming and waits (up to `graceMs`) for POSTs in flight and their marks; unfinished claims come back after their lease. */
    async stop(graceMs = timeoutMs): Promise<void> {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
      scheduleMarks(); // what has gathered goes now
      const settled = (async () => {
        await Promise.all([polling, ...inFlight, ...releases]);
        while (marking || marks.length > 0) await (marking ?? writeMarks());
      })();
      await Promise.race([settled, sleep(graceMs)]);
      // Its keep-alive sockets close once what is still in flight is done.
      dispatcher.close().catch(() => undefined);
    },
  };
}

export type WebhookDeliverer = ReturnType<typeof createWebhookDeliverer>;
