import type { Logger } from 'pino';
import type { AnalysisRun, AnalysisTemplate, CutoverStatus, Prescale, Reservation, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { CUTOVER_REQUEST_ANNOTATION } from '../api/v1alpha1/reservation.ts';
import { contentHash } from '../desired/metadata.ts';
import { iso } from '../kube/time.ts';
import type { CutoverObserver } from '../metrics.ts';
import { type CutoverDecision, decide, HISTORY_KEPT, isFinished } from './cutover.ts';
import type { DnsProvider, DnsRecord } from './dns-provider.ts';
import { inSync, type TrafficEvent, type TrafficOutcome } from './outcome.ts';
import { ownershipLabels } from './ownership.ts';
import { buildPlan } from './plan.ts';
import { capacityShortfall, maxFloors, prescaleFloors, prescaleRates } from './prescale.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import {
  batchChanges,
  currentRecordSet,
  desiredRecordSet,
  liveWeightsAfter,
  type RecordSetKey,
  resourceLabel,
  withWeightWriter,
} from './record-set.ts';
import { liveWeightsError } from './weights.ts';

/**
 * The traffic step of a reconcile while a cutover runs (or has run): this cluster's operator
 * writes both weighted records, ours and the peer's, one batch per step, as the state machine
 * (cutover.ts) decides; pre-scales before a share rises; measures analysis steps and the draining
 * peer's rate; and hands the peer's record back when the cutover ends or leaves the spec.
 */

/** What the traffic controller's reconcile gives the cutover: what was read, and its running result. */
export interface CutoverSyncContext {
  cr: Reservation;
  key: RecordSetKey;
  owner: string;
  target: string;
  /** The records read at the name (ours, the peer's, their TXTs). */
  seen: DnsRecord[];
  current: { record?: DnsRecord; txt?: DnsRecord };
  /** The reconcile's traffic status so far; the cutover updates it. */
  status: TrafficStatus;
  /** Events for the Reservation; the cutover adds to them. */
  events: TrafficEvent[];
  outcome(condition: TrafficOutcome['condition'], extra?: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>>): TrafficOutcome;
  /** An outcome with the records read kept for the next reconciles (no Route53 read until recheckMs). */
  settle(condition: TrafficOutcome['condition'], seen: DnsRecord[], recheckMs?: number, requeueAfterMs?: number): TrafficOutcome;
  /** The outcome of a batch Route53 accepted. */
  submitted(
    change: { id: string; status: 'PENDING' | 'INSYNC' },
    weights: { self: number; peer?: number },
    done: TrafficOutcome['condition'],
    requeueAfterMs?: number,
  ): TrafficOutcome;
  /** Forget the records read: the next reconcile reads Route53 again. */
  forgetRead(): void;
  provider(): DnsProvider;
  /** Aborts the calls outside once the reconcile is past its deadline. */
  signal: AbortSignal | undefined;
  now(): Date;
  /** One number from a Prometheus instant query; throws when there is none. */
  prometheus(url: string, promql: string): Promise<number>;
  analysis?: (
    cr: Reservation,
    template: AnalysisTemplate,
    run: AnalysisRun | undefined,
    step: number,
    signal?: AbortSignal,
  ) => Promise<AnalysisRun>;
  cutoverObserver?: CutoverObserver;
  logger: Logger;
}

/**
 * The cutover: this operator writes both weighted records (ours and the peer's), one batch per
 * step, and marks the peer's ownership TXT with `weight-writer=<our owner id>` so the peer's
 * operator leaves its weight alone until the cutover ends and the mark is removed.
 */
export async function syncCutover(ctx: CutoverSyncContext): Promise<TrafficOutcome> {
  const { cr } = ctx;
  const t = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
  const degraded = (reason: string, message: string): TrafficOutcome => {
    const running = ctx.status.cutover && !isFinished(ctx.status.cutover) ? ctx.status.cutover : undefined;
    if (running) {
      let next: CutoverStatus = { ...running, phase: 'Degraded', message };
      // A request cannot be carried out while the cutover cannot write; answer it rather than
      // leave the SRE (and `kubectl reservation`) waiting.
      const request = cr.metadata.annotations?.[CUTOVER_REQUEST_ANNOTATION];
      if (request && request !== running.handledRequest) {
        const entry = {
          at: iso(ctx.now()),
          step: running.step,
          event: 'RequestRefused',
          message: `${request}: the cutover cannot act now (${message}); it tries again every 30 s`,
        };
        next = { ...next, handledRequest: request, history: [...running.history, entry].slice(-HISTORY_KEPT) };
        ctx.events.push({ type: 'Warning', reason: 'RequestRefused', message: entry.message });
      }
      ctx.status = { ...ctx.status, cutover: next };
    }
    return ctx.outcome({ status: 'False', reason, message }, { requeueAfterMs: 30_000 });
  };
  const cutover = t.cutover;
  if (!cutover) return endCutover(ctx);
  const built = buildPlan(cutover, t.cluster);
  if (!built.ok) return degraded(TRAFFIC_REASON.CutoverPlanInvalid, `the cutover plan cannot run: ${built.errors.join('; ')}`);
  const plan = built.plan;
  const peerKey: RecordSetKey = { ...ctx.key, setIdentifier: plan.from };
  const peer = currentRecordSet(peerKey, ctx.seen);
  const peerLabels = ownershipLabels(peer.txt);
  const input = {
    plan,
    fingerprint: contentHash({
      from: cutover.from,
      steps: cutover.steps,
      stepPercent: cutover.stepPercent,
      maxPercent: cutover.maxPercent,
    }),
    request: cr.metadata.annotations?.[CUTOVER_REQUEST_ANNOTATION],
    analysis: Object.fromEntries((cutover.analysis ?? []).map((a) => [a.name, a])),
    ttlSeconds: t.dns.ttl,
    drainTtls: cutover.drain.ttls,
    ...(cutover.drain.peerRate ? { peerRate: { below: cutover.drain.peerRate.below } } : {}),
  };

  // A cutover that has ended (and is not being retried) no longer touches the peer's record,
  // which may be gone by now (the old cluster decommissioned): only our own, at its last weight.
  const ended =
    ctx.status.cutover && isFinished(ctx.status.cutover) && ctx.status.cutover.plan === input.fingerprint ? ctx.status.cutover : undefined;
  if (ended) {
    const after = decide({ ...input, verified: ended.verifiedWeights ?? ended.weights, status: ended, now: ctx.now() });
    if (isFinished(after.status)) {
      ctx.events.push(...after.events);
      ctx.status = { ...ctx.status, cutover: after.status, desiredWeight: after.weights.self };
      delete ctx.status.minReplicas;
      const ours = desiredRecordSet(ctx.key, {
        target: ctx.target,
        ttl: t.dns.ttl,
        weight: after.weights.self,
        owner: ctx.owner,
        resource: resourceLabel(cr),
      });
      // Hand the peer's weight back if the last batch could not (it failed, say).
      const handBack: Parameters<typeof batchChanges>[0] =
        peer.record && peer.txt && peerLabels && peerLabels['weight-writer'] === ctx.owner
          ? [[peer, { record: peer.record, txt: { ...peer.txt, values: [withWeightWriter(peerLabels, undefined)] } }]]
          : [];
      const changes = batchChanges([[ctx.current, ours], ...handBack]);
      const condition = cutoverCondition(after);
      if (changes.length === 0) {
        if (ctx.status.verifiedWeight !== after.weights.self)
          ctx.status = { ...ctx.status, verifiedWeight: after.weights.self, verifiedAt: iso(ctx.now()) };
        return ctx.settle(condition, ctx.seen);
      }
      const change = await ctx
        .provider()
        .change(t.dns.hostedZoneId, changes, `reservation-operator: ${resourceLabel(cr)} after its cutover`, { signal: ctx.signal });
      ctx.events.push({
        type: 'Normal',
        reason: 'RecordChanged',
        message: `${t.dns.name} (${t.cluster}) back to weight ${after.weights.self} after the cutover, in change ${change.id}`,
      });
      return ctx.submitted(change, { self: after.weights.self }, condition);
    }
  }

  const where = `${t.dns.name} (${plan.from})`;
  if (!peer.record || !peer.txt || !peerLabels?.owner) {
    return degraded(
      TRAFFIC_REASON.PeerRecordMissing,
      `${where}: the peer's weighted record and its ExternalDNS ownership TXT must both exist to cut over from them ` +
        `(found ${peer.record ? 'the record' : 'no record'}, ${peer.txt ? (peerLabels ? 'a TXT without an owner' : 'a TXT that is not an ownership record') : 'no TXT'})`,
    );
  }
  const peerWriter = peerLabels['weight-writer'];
  if (peerWriter && peerWriter !== ctx.owner) {
    return degraded(
      TRAFFIC_REASON.PeerRecordOwnedByOther,
      `${where}: another cutover (${peerWriter}) writes its weight; one writer at a time`,
    );
  }

  // No change of ours is PENDING here (sync waits for INSYNC first): what was read is what Route53 serves.
  const live = { self: ctx.current.record?.weight ?? 0, peer: peer.record.weight ?? 0 };
  let decision: CutoverDecision = decide({ ...input, verified: live, status: ctx.status.cutover, now: ctx.now() });
  ctx.events.push(...decision.events);
  // An analysis measurement, then the machine again with its result.
  for (let i = 0; decision.measure && i < 2; i++) {
    const { template, run } = decision.measure;
    const settings = (cutover.analysis ?? []).find((a) => a.name === template) as AnalysisTemplate;
    const measured = await measureAnalysis(ctx, settings, run, decision.status.step);
    decision = decide({
      ...input,
      verified: live,
      request: undefined,
      status: { ...decision.status, lastAnalysis: measured },
      now: ctx.now(),
    });
    ctx.events.push(...decision.events);
  }
  if (decision.measurePeerRate && cutover.drain.peerRate) {
    const { url, query } = cutover.drain.peerRate.prometheus;
    const measured = await ctx.prometheus(url, query.replaceAll('{{peer}}', plan.from)).catch((err: Error) => err);
    const peerRate = { below: cutover.drain.peerRate.below, measured };
    decision = decide({ ...input, verified: live, request: undefined, peerRate, status: decision.status, now: ctx.now() });
    ctx.events.push(...decision.events);
  }
  ctx.status = { ...ctx.status, cutover: decision.status, desiredWeight: decision.weights.self };
  const ref = { namespace: cr.metadata.namespace, name: cr.metadata.name };
  ctx.cutoverObserver?.observe(ref, decision.status);
  if (ctx.events.some((e) => e.reason === 'CutoverAborted')) ctx.cutoverObserver?.aborted(ref);
  delete ctx.status.weightOverride;
  const finished = isFinished(decision.status);
  const draining = !finished && decision.status.step >= decision.status.steps && decision.weights.peer === 0;
  if (finished) delete ctx.status.minReplicas;
  else if (cutover.prescale && decision.weights.self > live.self) {
    const waiting = await prescale(ctx, cutover.prescale, decision.status.share);
    if (waiting) return waiting;
  }

  const desired = desiredRecordSet(ctx.key, {
    target: ctx.target,
    ttl: t.dns.ttl,
    weight: decision.weights.self,
    owner: ctx.owner,
    resource: resourceLabel(cr),
  });
  const peerDesired = {
    record: { ...peer.record, weight: decision.weights.peer },
    txt: {
      ...peer.txt,
      weight: decision.weights.peer,
      values: [withWeightWriter(peerLabels, finished ? undefined : ctx.owner, draining && cutover.drain.connectionClose)],
    },
  };
  const changes = batchChanges([
    [ctx.current, desired],
    [peer, peerDesired],
  ]);
  const condition = cutoverCondition(decision);
  if (changes.length === 0) {
    if (ctx.status.verifiedWeight !== decision.weights.self)
      ctx.status = { ...ctx.status, verifiedWeight: decision.weights.self, verifiedAt: iso(ctx.now()) };
    return ctx.settle(condition, ctx.seen, undefined, decision.requeueAfterMs);
  }
  const rejected = liveWeightsError(t.dns.name, {
    ...liveWeightsAfter(ctx.key, ctx.seen, decision.weights.self),
    [plan.from]: decision.weights.peer,
  });
  if (rejected) return degraded(TRAFFIC_REASON.WeightRejected, rejected);
  const change = await ctx
    .provider()
    .change(
      t.dns.hostedZoneId,
      changes,
      `reservation-operator: ${resourceLabel(cr)} cutover sets ${t.cluster} ${decision.weights.self}, ${plan.from} ${decision.weights.peer}`,
      { signal: ctx.signal },
    );
  const handBack = finished && peerWriter === ctx.owner;
  ctx.events.push({
    type: 'Normal',
    reason: 'RecordChanged',
    message:
      `cutover: ${t.dns.name} ${t.cluster} ${live.self} → ${decision.weights.self}, ${plan.from} ${live.peer} → ${decision.weights.peer}` +
      `${handBack ? `, ${plan.from}'s weight handed back to its owner` : ''}, in change ${change.id}`,
  });
  ctx.logger.info({ reservation: resourceLabel(cr), change: change.id, weights: decision.weights }, 'route53 cutover change submitted');
  return ctx.submitted(change, { self: decision.weights.self, peer: decision.weights.peer }, condition, 1000);
}

/**
 * Before this cluster's share rises to `share`: floors on the HPAs for that share of the
 * current load, and an outcome that holds the write until the pods are available (undefined
 * once they are).
 */
async function prescale(ctx: CutoverSyncContext, settings: Prescale, share: number): Promise<TrafficOutcome | undefined> {
  const { cr } = ctx;
  const hold = (message: string, requeueAfterMs: number) => {
    const c = ctx.status.cutover as NonNullable<TrafficStatus['cutover']>;
    ctx.status = { ...ctx.status, cutover: { ...c, message } };
    return ctx.outcome({ status: 'False', reason: TRAFFIC_REASON.PreScaling, message }, { requeueAfterMs });
  };
  const rates = await prescaleRates(settings, ctx.prometheus).catch((err: Error) => err);
  if (rates instanceof Error) {
    const why = rates.message;
    return hold(
      `pre-scaling for ${share}%: no request rate from ${settings.prometheus.url} (${why}); waiting before raising the share`,
      15_000,
    );
  }
  const floors = maxFloors(ctx.status.minReplicas, prescaleFloors(cr.spec.services, settings, rates, share));
  if (JSON.stringify(floors) !== JSON.stringify(ctx.status.minReplicas ?? {})) {
    const listed = Object.entries(floors)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    ctx.events.push({ type: 'Normal', reason: 'PreScaling', message: `before raising the share to ${share}%: minReplicas ${listed}` });
  }
  ctx.status = { ...ctx.status, minReplicas: floors };
  const short = capacityShortfall(floors, cr.status?.services);
  if (short.length > 0) return hold(`pre-scaling for ${share}%: waiting for ${short.join(', ')}`, 2_000);
  return undefined;
}

/** spec.traffic.cutover was removed: hand the peer's record back where it is, and keep our weight. */
async function endCutover(ctx: CutoverSyncContext): Promise<TrafficOutcome> {
  const { cr } = ctx;
  const t = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
  const ended = ctx.status.cutover as NonNullable<TrafficStatus['cutover']>;
  const peerKey: RecordSetKey = { ...ctx.key, setIdentifier: ended.from };
  const peer = currentRecordSet(peerKey, ctx.seen);
  const labels = ownershipLabels(peer.txt);
  if (peer.record && peer.txt && labels?.['weight-writer'] === ctx.owner) {
    const change = await ctx
      .provider()
      .change(
        t.dns.hostedZoneId,
        batchChanges([[peer, { record: peer.record, txt: { ...peer.txt, values: [withWeightWriter(labels, undefined)] } }]]),
        `reservation-operator: ${resourceLabel(cr)} hands ${ended.from}'s weight back`,
        { signal: ctx.signal },
      );
    ctx.events.push({
      type: 'Normal',
      reason: 'WeightsHandedBack',
      message: `the cutover was removed from the spec: ${ended.from}'s record handed back at weight ${peer.record.weight ?? 0}, in change ${change.id}`,
    });
  }
  const weight = ctx.current.record?.weight ?? 0;
  ctx.status = {
    ...ctx.status,
    weightOverride: { weight, specWeight: t.weight, by: `the cutover from ${ended.from}` },
    desiredWeight: weight,
  };
  delete ctx.status.cutover;
  delete ctx.status.minReplicas;
  ctx.forgetRead();
  return ctx.outcome(inSync(t, weight, ctx.status.weightOverride), { requeueAfterMs: 1000 });
}

async function measureAnalysis(ctx: CutoverSyncContext, template: AnalysisTemplate, run: AnalysisRun | undefined, step: number) {
  if (ctx.analysis) return ctx.analysis(ctx.cr, template, run, step, ctx.signal);
  return {
    template: template.name,
    step,
    result: 'Inconclusive' as const,
    measurements: 1,
    failures: 0,
    inconclusive: 1,
    message: 'this operator has no analysis source configured',
    startedAt: iso(ctx.now()),
    measuredAt: iso(ctx.now()),
  };
}

function cutoverCondition(decision: CutoverDecision): TrafficOutcome['condition'] {
  const c = decision.status;
  const synced = c.verifiedWeights && c.verifiedWeights.self === c.weights.self && c.verifiedWeights.peer === c.weights.peer;
  const summary = `cutover ${c.phase}, step ${Math.min(c.step + 1, c.steps)}/${c.steps}: ${c.message}`;
  return synced
    ? { status: 'True', reason: TRAFFIC_REASON.RecordInSync, message: summary }
    : { status: 'False', reason: TRAFFIC_REASON.ChangePending, message: summary };
}
