import type {
  AnalysisRun,
  AnalysisTemplate,
  ClusterPrometheus,
  CutoverStatus,
  Prescale,
  TrafficStatus,
} from '../api/v1alpha1/reservation.ts';
import { CUTOVER_REQUEST_ANNOTATION } from '../api/v1alpha1/reservation.ts';
import { contentHash } from '../desired/metadata.ts';
import { iso } from '../kube/time.ts';
import { measurePacing } from './analysis/pacing-source.ts';
import type { TrafficContext } from './context.ts';
import { type CutoverDecision, type CutoverInput, decide, HISTORY_KEPT, isFinished, type PacingMeasured } from './cutover.ts';
import { peerCutoverFollowed, syncIdle } from './idle.ts';
import { measureShare, settleSettings } from './observed-share.ts';
import { inSync, type TrafficOutcome } from './outcome.ts';
import { ownershipLabels } from './ownership.ts';
import { PACING_NEEDS_PROMETHEUS, type PacingSettings, pacingSettings } from './pacing.ts';
import { buildPlan } from './plan.ts';
import {
  capacityShortfall,
  describeFloors,
  encodeFloors,
  type Floors,
  maxFloors,
  PRESCALED,
  peerReadyQuery,
  prescaleFloors,
  prescaleRates,
  type ReadyPods,
} from './prescale.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import { rebalanceLabel } from './rebalance.ts';
import {
  currentRecordSet,
  desiredRecordSet,
  handedBackValue,
  type RecordSetKey,
  type RecordSetPair,
  rebalanceRequested,
  resourceLabel,
  weightWriter,
  withWeightWriter,
} from './record-set.ts';

/**
 * The traffic step of a reconcile while a cutover runs (or has run): this cluster's operator
 * writes both weighted records, ours and the peer's, one batch per step, as the state machine
 * (cutover.ts) decides; pre-scales before a share rises; measures analysis steps and the draining
 * peer's rate; and hands the peer's record back when the cutover ends or leaves the spec.
 */

/**
 * The cutover: this operator writes both weighted records (ours and the peer's), one batch per
 * step, and marks the peer's ownership TXT with `weight-writer=<our owner id>` so the peer's
 * operator leaves its weight alone until the cutover ends and the mark is removed.
 */
export async function syncCutover(ctx: TrafficContext): Promise<TrafficOutcome> {
  const { cr, spec: t } = ctx;
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
  let pacing: PacingSettings | undefined;
  try {
    pacing = cutover.pacing && pacingSettings(cutover.pacing);
    // The CRD refuses this; a spec written around it still gets a reason, not a cutover paced blind.
    if (pacing && !cutover.prometheus) throw new RangeError(PACING_NEEDS_PROMETHEUS);
  } catch (err) {
    return degraded(TRAFFIC_REASON.CutoverPlanInvalid, `the cutover plan cannot run: ${(err as Error).message}`);
  }
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
    settle: settleSettings(cutover),
    ...(pacing ? { pacing: { settings: pacing } } : {}),
    ...(cutover.prescale ? { takeBack: {} } : {}),
  } satisfies Omit<CutoverInput, 'now'>;

  // A cutover that has ended (and is not being retried) no longer touches the peer's record,
  // which may be gone by now (the old cluster decommissioned): only our own, at its last weight.
  const ended =
    ctx.status.cutover && isFinished(ctx.status.cutover) && ctx.status.cutover.plan === input.fingerprint ? ctx.status.cutover : undefined;
  if (ended) {
    const after = decide({ ...input, verified: ended.verifiedWeights ?? ended.weights, status: ended, now: ctx.now() });
    if (isFinished(after.status) && peerCutoverFollowed(ctx.status, ctx.current, ctx.owner)) {
      // A later cutover of the peer's writes our weight, or has handed it back: the idle record's
      // rules decide it from here, starting from the weight ours ended with (as an override).
      ctx.events.push(...after.events);
      ctx.status = {
        ...ctx.status,
        cutover: after.status,
        weightOverride: ctx.status.weightOverride ?? {
          weight: after.weights.self,
          specWeight: t.weight,
          by: `the cutover from ${ended.from}`,
        },
      };
      return syncIdle(ctx);
    }
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
      const handBack: RecordSetPair[] =
        peer.record && peer.txt && peerLabels && peerLabels['weight-writer'] === ctx.owner
          ? [[peer, { record: peer.record, txt: { ...peer.txt, values: [handedBackValue(peerLabels, ctx.owner)] } }]]
          : [];
      return ctx.applyRecordSets({
        sets: [[ctx.current, ours], ...handBack],
        weights: { self: after.weights.self },
        done: cutoverCondition(after),
        comment: `reservation-operator: ${resourceLabel(cr)} after its cutover`,
        event: {
          reason: 'RecordChanged',
          message: `${t.dns.name} (${t.cluster}) back to weight ${after.weights.self} after the cutover`,
        },
      });
    }
  }

  // A peer's cutover writes our weight (its label on our TXT): a cutover of ours now would write
  // the peer's record while the peer writes ours, each undoing the other. Ours waits until that
  // one ends and hands our record back. Of two asked for at once in opposite directions, the
  // batch Route53 applies first wins: each deletes exactly what it read (compare-and-swap), so
  // the other fails, reads again and waits here. Meanwhile the idle record's rules keep the
  // handover (leave the record alone, keep warm, or take it back from a writer that is gone).
  const ourWriter = weightWriter(ctx.current.txt);
  if (ourWriter && ourWriter !== ctx.owner) {
    const idle = await syncIdle(ctx);
    if (idle.condition.reason !== TRAFFIC_REASON.WeightsHandedOver) return idle; // taken back
    return degraded(
      TRAFFIC_REASON.PeerRecordOwnedByOther,
      `${t.dns.name} (${t.cluster}): the cutover of ${ourWriter} writes this cluster's weight; this cutover waits until it ` +
        'ends and hands the record back (one writer at a time; if that cluster is gone for good: kubectl reservation take-back)',
    );
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
  // The observed share a setShare step waits for, then the machine again with it.
  if (decision.measureShare) {
    const measuredShare = await measureShare(ctx, cutover, decision.measureShare.windowMs);
    decision = decide({ ...input, verified: live, request: undefined, measuredShare, status: decision.status, now: ctx.now() });
    ctx.events.push(...decision.events);
  }
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
  if (decision.measurePacing && pacing && cutover.prometheus) {
    const measured = await measurePacedStep(ctx, cutover.prometheus, pacing, decision.measurePacing);
    decision = decide({
      ...input,
      verified: live,
      request: undefined,
      pacing: { settings: pacing, measured },
      status: decision.status,
      now: ctx.now(),
    });
    ctx.events.push(...decision.events);
  }
  if (decision.measureTakeBack && cutover.prescale) {
    const measured = await measureTakeBack(ctx, cutover.prescale, plan.from, decision.status.startShare);
    decision = decide({ ...input, verified: live, request: undefined, takeBack: { measured }, status: decision.status, now: ctx.now() });
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
  ctx.runtime.cutoverObserver?.observe(ref, decision.status);
  if (ctx.events.some((e) => e.reason === 'CutoverAborted')) ctx.runtime.cutoverObserver?.aborted(ref);
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
      values: [
        finished
          ? handedBackValue(peerLabels, ctx.owner)
          : withWeightWriter(peerLabels, ctx.owner, {
              drain: draining && cutover.drain.connectionClose,
              ...(decision.status.takeBack?.floors ? { floors: encodeFloors(decision.status.takeBack.floors) } : {}),
              ...(cutover.drain.connectionClose ? { rebalance: rebalanceLabel(live, decision.weights, rebalanceRequested(peer.txt)) } : {}),
            }),
      ],
    },
  };
  const handBack = finished && peerWriter === ctx.owner;
  return ctx.applyRecordSets({
    sets: [
      [ctx.current, desired],
      [peer, peerDesired],
    ],
    weights: { self: decision.weights.self, peer: decision.weights.peer },
    done: cutoverCondition(decision),
    requeueAfterMs: { inSync: decision.requeueAfterMs, submitted: 1000 },
    whenRejected: (message) => degraded(TRAFFIC_REASON.WeightRejected, message),
    comment: `reservation-operator: ${resourceLabel(cr)} cutover sets ${t.cluster} ${decision.weights.self}, ${plan.from} ${decision.weights.peer}`,
    event: {
      reason: 'RecordChanged',
      message:
        `cutover: ${t.dns.name} ${t.cluster} ${live.self} → ${decision.weights.self}, ${plan.from} ${live.peer} → ${decision.weights.peer}` +
        `${handBack ? `, ${plan.from}'s weight handed back to its owner` : ''}`,
    },
  });
}

/**
 * Before this cluster's share rises to `share`: floors on the HPAs for that share of the
 * current load, and an outcome that holds the write until the pods are available (undefined
 * once they are).
 */
async function prescale(ctx: TrafficContext, settings: Prescale, share: number): Promise<TrafficOutcome | undefined> {
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
    ctx.events.push({
      type: 'Normal',
      reason: 'PreScaling',
      message: `before raising the share to ${share}%: minReplicas ${describeFloors(floors)}`,
    });
  }
  ctx.status = { ...ctx.status, minReplicas: floors };
  const short = capacityShortfall(floors, cr.status?.services);
  if (short.length > 0) return hold(`pre-scaling for ${share}%: waiting for ${short.join(', ')}`, 2_000);
  return undefined;
}

/** spec.traffic.cutover was removed: hand the peer's record back where it is, and keep our weight. */
async function endCutover(ctx: TrafficContext): Promise<TrafficOutcome> {
  const { cr, spec: t } = ctx;
  const ended = ctx.status.cutover as NonNullable<TrafficStatus['cutover']>;
  const peerKey: RecordSetKey = { ...ctx.key, setIdentifier: ended.from };
  const peer = currentRecordSet(peerKey, ctx.seen);
  const labels = ownershipLabels(peer.txt);
  if (peer.record && peer.txt && labels?.['weight-writer'] === ctx.owner) {
    // Only the peer's ownership TXT changes: no weight of ours to verify, so nothing to remember.
    await ctx.submitBatch(
      [[peer, { record: peer.record, txt: { ...peer.txt, values: [handedBackValue(labels, ctx.owner)] } }]],
      `reservation-operator: ${resourceLabel(cr)} hands ${ended.from}'s weight back`,
      {
        reason: 'WeightsHandedBack',
        message: `the cutover was removed from the spec: ${ended.from}'s record handed back at weight ${peer.record.weight ?? 0}`,
      },
    );
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

/**
 * Whether the peer can take the traffic back if the cutover aborts now: the pods each HTTP
 * service needs for the load it gets back (everything above the starting share, at
 * requestsPerPod, within this cluster's replica bounds: the same images), and its ready pods.
 */
async function measureTakeBack(
  ctx: TrafficContext,
  prescale: Prescale,
  peer: string,
  startShare: number,
): Promise<{ needed: Floors; ready: ReadyPods } | Error> {
  const { cr } = ctx;
  try {
    const rates = await prescaleRates(prescale, ctx.prometheus);
    const needed = prescaleFloors(cr.spec.services, { ...prescale, headroomPercent: 0 }, rates, 100 - startShare);
    const vars = { peer, namespace: cr.metadata.namespace as string, name: cr.metadata.name as string };
    const counts = await Promise.all(
      PRESCALED.map((service) =>
        ctx.prometheus(prescale.prometheus.url, peerReadyQuery(prescale.prometheus.peerReady, { ...vars, service })),
      ),
    );
    return { needed, ready: Object.fromEntries(PRESCALED.map((service, i) => [service, counts[i]])) };
  } catch (err) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    return err as Error;
  }
}

/** A paced step's requests and burn rates from Prometheus, or why there are none. */
async function measurePacedStep(
  ctx: TrafficContext,
  prometheus: ClusterPrometheus,
  settings: PacingSettings,
  asked: { step: number; since: string },
): Promise<PacingMeasured | Error> {
  const { cr, spec: t } = ctx;
  const clusters = {
    label: prometheus.label,
    self: prometheus.thisCluster ?? t.cluster,
    peer: prometheus.peerCluster ?? (t.cutover?.from as string),
  };
  const target = { namespace: cr.metadata.namespace as string, name: cr.metadata.name as string };
  const sinceMs = ctx.now().getTime() - Date.parse(asked.since);
  try {
    const counts = await measurePacing((q) => ctx.prometheusSeries(prometheus.url, q), target, clusters, sinceMs, settings.objective);
    return {
      ...asked,
      requests: counts.requests,
      totalRatePerSecond: counts.totalRatePerSecond,
      burn: counts.burn,
      missing: counts.missing,
    };
  } catch (err) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    return err as Error;
  }
}

async function measureAnalysis(ctx: TrafficContext, template: AnalysisTemplate, run: AnalysisRun | undefined, step: number) {
  if (ctx.runtime.analysis) return ctx.runtime.analysis(ctx.cr, template, run, step, ctx.signal);
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
  // The step the weights are at went on without its traffic (settle.maxWait): say so until the next one settles.
  const behind = c.observed?.settled === 'Bound' && c.observed.configuredShare === c.share;
  if (synced && behind)
    return { status: 'True', reason: TRAFFIC_REASON.ObservedShareBehind, message: `${summary} (${c.observed?.message})` };
  return synced
    ? { status: 'True', reason: TRAFFIC_REASON.RecordInSync, message: summary }
    : { status: 'False', reason: TRAFFIC_REASON.ChangePending, message: summary };
}
