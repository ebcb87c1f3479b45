import { cappedBackoffDelay } from '@reservations/service-kit/backoff';

type Aggregated = { aggregate_type: string; aggregate_id: string };
const aggregateKey = (r: Aggregated) => `${r.aggregate_type}:${r.aggregate_id}`;

/**
 * The next SendMessageBatch of a pass: up to `max` rows of `pending` (in id order), at most one per
 * aggregate, each its aggregate's first pending row. A later event of an aggregate goes in a
 * later call, once the earlier one was accepted: SQS answers per entry, so an earlier entry
 * refused beside an accepted later one of the same message group would let the later overtake it.
 */
export function nextChunk<R extends Aggregated>(pending: readonly R[], max: number): R[] {
  const seen = new Set<string>();
  const chunk: R[] = [];
  for (const row of pending) {
    const key = aggregateKey(row);
    if (seen.has(key)) continue;
    seen.add(key);
    chunk.push(row);
    if (chunk.length === max) break;
  }
  return chunk;
}

/** The rows of `pending` not of `aggregate`: what is left when one of its rows failed. */
export function withoutAggregate<R extends Aggregated>(pending: readonly R[], aggregate: Aggregated): R[] {
  const key = aggregateKey(aggregate);
  return pending.filter((r) => aggregateKey(r) !== key);
}

/**
 * Codes with which SQS refuses a message for what it is (its body, its size, its group or
 * deduplication id): sending it again cannot succeed. ElasticMQ reports a refused body as
 * `InvalidAttributeValue` with the message `InvalidMessageContents`.
 */
const REFUSALS = new Set(['InvalidMessageContents', 'MessageTooLong', 'InvalidParameterValue', 'InvalidAttributeValue']);

/** A failed entry of a SendMessageBatch answer. */
export interface EntryFailure {
  Code?: string;
  Message?: string;
  SenderFault?: boolean;
}

/** `permanent`: park the row now; `retry`: count an attempt and try again on a later pass. */
export function classifyEntryFailure(failure: EntryFailure): 'permanent' | 'retry' {
  return failure.SenderFault === true && (REFUSALS.has(failure.Code ?? '') || REFUSALS.has(failure.Message ?? '')) ? 'permanent' : 'retry';
}

/**
 * A SendMessageBatch call that failed as a whole because of what one of its messages is (SQS
 * answers MessageTooLong or BatchRequestTooLong for the call, not per entry). Anything else (a
 * timeout, a connection error, a 5xx, throttling, credentials) says nothing of the messages.
 */
export function isMessageRefusal(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $fault?: string } | null;
  if (e?.$fault !== 'client') return false;
  const code = e.Code ?? e.name ?? '';
  return REFUSALS.has(code) || code === 'BatchRequestTooLong';
}

/** What a failed send does to its row: one more attempt, and parked if it cannot succeed or has no attempts left. */
export function afterFailedSend(attemptsBefore: number, permanent: boolean, maxAttempts: number): { attempts: number; park: boolean } {
  const attempts = attemptsBefore + 1;
  return { attempts, park: permanent || attempts >= maxAttempts };
}

/** A short text for `last_error` and the logs (the column holds 500 characters). */
export function describeFailure(failure: EntryFailure | Error): string {
  const text =
    failure instanceof Error
      ? `${failure.name}: ${failure.message}`
      : `${failure.Code ?? 'unknown'}${failure.Message ? `: ${failure.Message}` : ''}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

/** Whether the relay can reach SQS, as its passes found it. */
export interface RelayHealth {
  /** Failed passes in a row (0: healthy). */
  failures: number;
  /** When the first of them failed. */
  since?: number;
}

export interface HealthChange {
  health: RelayHealth;
  /** How long to wait before the next pass (0: go on as woken). */
  delayMs: number;
  /** Set on a change of state only: the relay logs one line then, never one per wake. */
  transition?: 'failing' | 'recovered';
}

/**
 * The relay's state after a pass: a failed pass starts or extends an outage, and the next pass
 * waits a capped full-jitter backoff that doubles per failure; the first good pass ends it.
 */
export function afterPass(
  health: RelayHealth,
  ok: boolean,
  now: number,
  { baseMs, maxMs }: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): HealthChange {
  if (ok) {
    return health.failures === 0 ? { health, delayMs: 0 } : { health: { failures: 0 }, delayMs: 0, transition: 'recovered' };
  }
  const failures = health.failures + 1;
  // At least a tenth of the ceiling of this step, so a run of small draws cannot spin against a dead endpoint.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  const delayMs = Math.max(Math.ceil(ceiling / 10), cappedBackoffDelay(failures - 1, baseMs, maxMs, random));
  return {
    health: { failures, since: health.since ?? now },
    delayMs,
    ...(health.failures === 0 ? { transition: 'failing' as const } : {}),
  };
}
