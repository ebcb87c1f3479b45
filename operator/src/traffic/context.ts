import type { Logger } from 'pino';
import type { AnalysisRun, AnalysisTemplate, Reservation, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import type { CutoverObserver } from '../metrics.ts';
import { oneNumber, type SeriesValue } from './analysis/prometheus-source.ts';
import type { DnsProvider, DnsRecord } from './dns-provider.ts';
import { outcomeOf, type TrafficCondition, type TrafficEvent, type TrafficOutcome, type TrafficSpec } from './outcome.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import {
  batchChanges,
  currentRecordSet,
  liveWeightsAfter,
  type RecordSet,
  type RecordSetKey,
  type RecordSetPair,
  resourceLabel,
} from './record-set.ts';
import { liveWeightsError } from './weights.ts';

/** Takes one measurement of an analysis step (a new run when `run` is undefined). */
export type AnalysisHook = (
  cr: Reservation,
  template: AnalysisTemplate,
  run: AnalysisRun | undefined,
  step: number,
  signal?: AbortSignal,
) => Promise<AnalysisRun>;

/**
 * When a Reservation's record set was last read and found settled, for which generation (a spec
 * change re-reads) and target, and the condition it gave.
 */
export interface LastRead {
  at: number;
  generation: number | undefined;
  target: string;
  condition: TrafficCondition;
  seen: DnsRecord[];
  /** Read again after this long (shorter than the drift check while a peer's cutover holds our weight). */
  recheckMs: number;
}

/** What the traffic reconciler shares with every reconcile's context. */
export interface TrafficRuntime {
  provider(): DnsProvider;
  now(): Date;
  logger: Logger;
  driftCheckMs: number;
  pendingPollMs: number;
  /** Per Reservation (by uid): its last settled read. */
  lastRead: Map<string, LastRead>;
  /** An instant query's series (prometheus-source's vectorQuery, with the operator's allowed hosts). */
  prometheusQuery?: (url: string, promql: string, signal?: AbortSignal) => Promise<SeriesValue[]>;
  analysis?: AnalysisHook;
  cutoverObserver?: CutoverObserver;
}

/** One write of record sets: ours, and the peer's during a cutover. */
export interface RecordSetWrite {
  /** Each record set as read and as it should be. */
  sets: RecordSetPair[];
  /** The weights the batch gives ours and the peer's record: verified at once when nothing changes. */
  weights: { self: number; peer?: number };
  /** The condition once Route53 serves the batch. */
  done: TrafficCondition;
  /** Route53's comment on the batch. */
  comment: string;
  /** The event of a submitted batch; `, in change <id>` ends its message. */
  event: { reason: string; message: string };
  /** When to look again: once in sync (default: the drift check), once submitted INSYNC. */
  requeueAfterMs?: { inSync?: number; submitted?: number };
  /**
   * The outcome when the batch would leave every weighted record of the name at 0 (or a weight
   * out of range); checked only when there is something to write. Absent: not checked.
   */
  whenRejected?: (message: string) => TrafficOutcome;
}

/**
 * One reconcile of one Reservation's traffic (Argo Rollouts' rolloutContext): what was read,
 * the status as it is being decided, the events so far, and the one write path. Built once per
 * reconcile, after Route53 was read; the idle record (idle.ts), the cutover (cutover-sync.ts)
 * and the hand-backs work through it.
 */
export class TrafficContext {
  readonly cr: Reservation;
  /** cr.spec.traffic (the context exists only for a Reservation that has it). */
  readonly spec: TrafficSpec;
  readonly key: RecordSetKey;
  /** Our ExternalDNS owner id. */
  readonly owner: string;
  /** What our record points at: spec.traffic.target, or the edge's load balancer. */
  readonly target: string;
  /** The records read at the name (ours, the peer's, their TXTs). */
  readonly seen: DnsRecord[];
  /** Our two records among them. */
  readonly current: RecordSet;
  /** The reconcile's traffic status so far; each step updates it. */
  status: TrafficStatus;
  /** Events for the Reservation, in order. */
  readonly events: TrafficEvent[];
  /** Aborts the calls outside once the reconcile is past its deadline. */
  readonly signal: AbortSignal | undefined;
  readonly runtime: TrafficRuntime;

  constructor(init: {
    cr: Reservation;
    key: RecordSetKey;
    owner: string;
    target: string;
    seen: DnsRecord[];
    status: TrafficStatus;
    events: TrafficEvent[];
    signal: AbortSignal | undefined;
    runtime: TrafficRuntime;
  }) {
    this.cr = init.cr;
    this.spec = init.cr.spec.traffic as TrafficSpec;
    this.key = init.key;
    this.owner = init.owner;
    this.target = init.target;
    this.seen = init.seen;
    this.current = currentRecordSet(init.key, init.seen);
    this.status = init.status;
    this.events = init.events;
    this.signal = init.signal;
    this.runtime = init.runtime;
  }

  now(): Date {
    return this.runtime.now();
  }

  outcome(condition: TrafficCondition, extra: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>> = {}): TrafficOutcome {
    return outcomeOf(this.status, this.events, condition, extra);
  }

  /** An outcome with the records read kept for the next reconciles (no Route53 read until recheckMs). */
  settle(condition: TrafficCondition, recheckMs = this.runtime.driftCheckMs, requeueAfterMs?: number): TrafficOutcome {
    const { cr, target, seen } = this;
    this.runtime.lastRead.set(cr.metadata.uid, {
      at: this.now().getTime(),
      generation: cr.metadata.generation,
      target,
      condition,
      seen,
      recheckMs,
    });
    // Come back for the next read-back even if nothing else wakes this Reservation.
    return this.outcome(condition, { requeueAfterMs: requeueAfterMs ?? recheckMs });
  }

  /** Forget the records read: the next reconcile reads Route53 again. */
  forgetRead(): void {
    this.runtime.lastRead.delete(this.cr.metadata.uid);
  }

  /** One number from a Prometheus instant query; throws when there is none. A field: it is passed on as a function. */
  readonly prometheus = async (url: string, promql: string): Promise<number> => {
    const value = oneNumber(url, promql, await this.prometheusSeries(url, promql));
    if (value === undefined || !Number.isFinite(value)) throw new Error(`no data from ${promql}`);
    return value;
  };

  /** Every series of a Prometheus instant query. A field: it is passed on as a function. */
  readonly prometheusSeries = async (url: string, promql: string): Promise<SeriesValue[]> => {
    const query = this.runtime.prometheusQuery;
    if (!query) throw new Error('this operator has no Prometheus client');
    return query(url, promql, this.signal);
  };

  /**
   * The one write path: the changes from what was read to `write.sets`; none, and the weight is
   * verified as it is; otherwise one atomic batch (a compare-and-swap of what was read), its
   * event, and the submission remembered in status.traffic.lastChange until Route53 says INSYNC.
   */
  async applyRecordSets(write: RecordSetWrite): Promise<TrafficOutcome> {
    const { weights } = write;
    const changes = batchChanges(write.sets);
    if (changes.length === 0) {
      if (this.status.verifiedWeight !== weights.self)
        this.status = { ...this.status, verifiedWeight: weights.self, verifiedAt: iso(this.now()) };
      return this.settle(write.done, undefined, write.requeueAfterMs?.inSync);
    }
    if (write.whenRejected) {
      const after = liveWeightsAfter(this.key, this.seen, weights.self);
      for (const [, desired] of write.sets.slice(1)) {
        if (desired.record.setIdentifier !== undefined) after[desired.record.setIdentifier] = desired.record.weight ?? 0;
      }
      const rejected = liveWeightsError(this.spec.dns.name, after);
      if (rejected) return write.whenRejected(rejected);
    }
    const change = await this.submitBatch(write.sets, write.comment, write.event);
    this.runtime.logger.info({ reservation: resourceLabel(this.cr), change: change.id, weights }, 'route53 change submitted');
    return this.submitted(change, weights, write.done, write.requeueAfterMs?.submitted);
  }

  /**
   * Sends the batch from what was read to `sets` and records its event. Only for a batch that
   * moves no weight of ours (handing the peer's record back): any other goes through
   * applyRecordSets, which remembers it.
   */
  async submitBatch(sets: RecordSetPair[], comment: string, event: { reason: string; message: string }) {
    const change = await this.runtime.provider().change(this.spec.dns.hostedZoneId, batchChanges(sets), comment, { signal: this.signal });
    this.events.push({ type: 'Normal', reason: event.reason, message: `${event.message}, in change ${change.id}` });
    return change;
  }

  /** A batch was accepted: verified now if Route53 says INSYNC at once, else looked at again soon. */
  submitted(
    change: { id: string; status: 'PENDING' | 'INSYNC' },
    weights: { self: number; peer?: number },
    done: TrafficCondition,
    requeueAfterMs?: number,
  ): TrafficOutcome {
    this.forgetRead();
    this.status = {
      ...this.status,
      lastChange: {
        id: change.id,
        status: change.status,
        weight: weights.self,
        ...(weights.peer !== undefined ? { peerWeight: weights.peer } : {}),
        submittedAt: iso(this.now()),
      },
    };
    if (change.status === 'PENDING')
      return this.outcome(changePending(change.id, weights.self), { requeueAfterMs: this.runtime.pendingPollMs });
    this.status = { ...this.status, verifiedWeight: weights.self, verifiedAt: iso(this.now()) };
    // INSYNC at once: the next reconcile (soon) lets the cutover count it.
    return this.outcome(done, requeueAfterMs !== undefined ? { requeueAfterMs } : {});
  }
}

/** TrafficReady while a change of ours is not INSYNC yet. */
export function changePending(id: string, weight: number): TrafficCondition {
  return {
    status: 'False',
    reason: TRAFFIC_REASON.ChangePending,
    message: `waiting for Route53 change ${id} (weight ${weight}) to be INSYNC`,
  };
}
