import type { AnalysisRun, CutoverStatus, CutoverVerb } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import { type PacingMeasurement, type PacingSettings, pace } from './pacing.ts';
import { describeStep, type Plan, type PlanStep, parseDuration } from './plan.ts';
import { describeFloors, type Floors, type ReadyPods, takeBackShortfall } from './prescale.ts';
import { type SettleSettings, type ShareMeasurement, settleStep } from './settle.ts';
import { parseCutoverRequest, verbError } from './verbs.ts';
import { type ShareWeights, shareOf, weightsForShare } from './weights.ts';

/**
 * The cutover state machine (pure): from the plan, the last status and what Route53 serves now,
 * the next status and what to do (write weights, take a measurement, look again later).
 *
 * The rules that keep traffic safe:
 * - a setShare step counts as done only when Route53 serves its weights everywhere (INSYNC) and
 *   one TTL has passed since, so resolvers' cached answers have caught up;
 * - a step is never skipped by a restart: everything needed to go on is in the status;
 * - an abort walks back down the plan's own shares to the share the cutover started from, each
 *   one verified and held for a TTL like on the way up;
 * - with pacing, a setShare step then lasts until this cluster has served its requests at that
 *   share (pacing.ts): a fast burn aborts, a slow burn pauses;
 * - with prescale, an abort first checks the peer can take the traffic back (its ready pods
 *   against the load it gets back); if not, it asks the peer for those pods and waits for them
 *   (at most TAKE_BACK_WAIT_MS) before its first step down.
 * The traffic reconciler (traffic/cutover-sync.ts) does the I/O: it writes `write`, measures `measure`, and
 * calls again.
 */

export interface CutoverEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface CutoverInput {
  plan: Plan;
  /** Identifies the plan: a changed plan starts again from the share Route53 serves. */
  fingerprint: string;
  status?: CutoverStatus;
  /** The weights Route53 serves everywhere now; undefined while a change is PENDING. */
  verified?: ShareWeights;
  /** The value of the cutover-request annotation. */
  request?: string;
  /** The analysis templates of the plan, by name (for their interval and inconclusive policy). */
  analysis: Readonly<Record<string, { interval: string; inconclusive: 'Pause' | 'Abort' }>>;
  ttlSeconds: number;
  /** After the peer reaches 0: wait this many TTLs before Succeeded (stale resolvers, long-lived clients). */
  drainTtls: number;
  /**
   * With a peer-rate threshold (spec drain.peerRate.below): the peer's request rate, measured at
   * the machine's request (`measurePeerRate`), or the error that kept it from being measured.
   */
  peerRate?: { below: number; measured?: number | Error };
  /** spec.traffic.cutover.settle: a setShare step also waits for the observed share (settle.ts). Absent: it does not. */
  settle?: SettleSettings;
  /** Both clusters' requests, measured at the machine's request (`measureShare`). */
  measuredShare?: ShareMeasurement;
  /**
   * With spec.traffic.cutover.pacing: its settings, and what Prometheus said for the step the
   * machine asked about (`measurePacing`), or the error that kept it from answering.
   */
  pacing?: { settings: PacingSettings; measured?: PacingMeasured | Error };
  /**
   * With prescale: an abort checks the peer's capacity first. `measured`, at the machine's request
   * (`measureTakeBack`): the pods each service needs for the load the peer gets back, and the
   * peer's ready pods; or the error that kept Prometheus from saying.
   */
  takeBack?: { measured?: { needed: Floors; ready: ReadyPods } | Error };
  now: Date;
}

/** A pacing measurement of one step, counted from `since` (the step in sync and held for a TTL). */
export interface PacingMeasured extends PacingMeasurement {
  step: number;
  since: string;
  /** Cluster label values Prometheus had no request series for (a wrong value looks like no traffic). */
  missing?: string[];
}

export interface CutoverDecision {
  status: CutoverStatus;
  /** Weights the record sets must have now; the controller writes them when Route53 differs. */
  weights: ShareWeights;
  /** Take a measurement for this analysis step now (a new run when `run` is undefined). */
  measure?: { template: string; run?: AnalysisRun };
  /** Measure the peer's request rate now and decide again with it (draining). */
  measurePeerRate?: true;
  /** Measure both clusters' requests over this window now and decide again with them (settle.ts). */
  measureShare?: { windowMs: number };
  /** Measure this step's requests since `since` and this cluster's burn rates, then decide again with them (pacing). */
  measurePacing?: { step: number; since: string };
  /** Measure whether the peer can take the traffic back, then decide again with it (an abort's first step). */
  measureTakeBack?: true;
  requeueAfterMs?: number;
  events: CutoverEvent[];
}

/** History entries kept in status (the CRD's maxItems). */
export const HISTORY_KEPT = 20;
/** How often a draining peer's request rate is measured again. */
export const PEER_RATE_POLL_MS = 15_000;
/** The shortest wait between two pacing measurements: Prometheus scrapes every 15-30 s. */
export const PACING_POLL_MS = 5_000;
/** After Prometheus could not answer a pacing measurement: when to ask again. */
export const PACING_RETRY_MS = 15_000;
/**
 * How long an abort waits for the peer's pods before walking back anyway: the traffic leaves a
 * cluster that is failing, and a short peer is better than none. New pods are ready in well under it.
 */
export const TAKE_BACK_WAIT_MS = 3 * 60_000;
/** How often an abort waiting for the peer's pods looks again. */
export const TAKE_BACK_POLL_MS = 5_000;
const round = (n: number) => Math.round(n * 100) / 100;
/** Enough passes for one reconcile to go through every instantaneous step (pauses promoted, ...). */
const MAX_PASSES = 200;

/** The history events that hold a cutover until resumed or promoted. */
const HELD_BY = new Set(['Paused', 'SlowBurn', 'AnalysisInconclusive']);

const sameWeights = (a: ShareWeights | undefined, b: ShareWeights | undefined) => !!a && !!b && a.self === b.self && a.peer === b.peer;
/** This cluster's share of Route53's answers for these weights (Route53's rule, 0/0 an even split). */
const shareOfWeights = (w: ShareWeights) => shareOf('self', { self: w.self, peer: w.peer });

export const isFinished = (s: CutoverStatus | undefined) => !!s?.finishedAt;

/** The first step to run when a plan starts at `share`: steps up to the last setShare at or below it count as done. */
export function firstStep(plan: Plan, share: number): number {
  const above = plan.steps.findIndex((step) => step.kind === 'setShare' && step.share > share);
  const upTo = above === -1 ? plan.steps.length : above;
  return plan.steps.slice(0, upTo).findLastIndex((step) => step.kind === 'setShare') + 1;
}

/** The shares an abort visits, from `share` back to `startShare`: the plan's own shares in between, then the start. */
export function abortShares(plan: Plan, share: number, startShare: number): number[] {
  const between = plan.steps.flatMap((s) => (s.kind === 'setShare' && s.share < share && s.share > startShare ? [s.share] : []));
  return [...new Set(between)].sort((a, b) => b - a).concat(share === startShare ? [] : [startShare]);
}

/** A new cutover from the weights Route53 serves now. */
export function startCutover(plan: Plan, fingerprint: string, live: ShareWeights, now: Date): CutoverStatus {
  const startShare = Math.round(shareOfWeights(live));
  const step = firstStep(plan, startShare);
  return {
    phase: 'Progressing',
    from: plan.from,
    plan: fingerprint,
    step,
    steps: plan.steps.length,
    stepStartedAt: iso(now),
    startShare,
    share: startShare,
    weights: { ...live },
    verifiedWeights: { ...live },
    verifiedShare: shareOfWeights(live),
    syncedAt: iso(now),
    message: `starting at ${startShare}% (${plan.from} has the rest)`,
    history: [{ at: iso(now), step, event: 'CutoverStarted', message: `from ${plan.from} at ${startShare}%, ${plan.steps.length} steps` }],
    startedAt: iso(now),
  };
}

export function decide(input: CutoverInput): CutoverDecision {
  const { plan, now, verified } = input;
  const ttlMs = input.ttlSeconds * 1000;
  const events: CutoverEvent[] = [];
  let s: CutoverStatus;
  let measure: CutoverDecision['measure'];
  let measurePeerRate = false;
  let measureShare: CutoverDecision['measureShare'];
  let measurePacing: CutoverDecision['measurePacing'];
  let measureTakeBack = false;
  let requeueAfterMs: number | undefined;

  const note = (event: string, message: string, type: 'Normal' | 'Warning' = 'Normal') => {
    events.push({ type, reason: event, message });
    s = { ...s, history: [...s.history, { at: iso(now), step: s.step, event, message }].slice(-HISTORY_KEPT) };
  };
  const wait = (ms: number) => {
    requeueAfterMs = Math.max(1000, Math.min(requeueAfterMs ?? Number.POSITIVE_INFINITY, ms));
  };
  const enterStep = (step: number) => {
    s = { ...s, step, stepStartedAt: iso(now) };
    delete s.held;
    delete s.pacing;
  };

  if (!input.status || input.status.plan !== input.fingerprint || input.status.from !== plan.from) {
    if (!verified) {
      // A change of ours is still PENDING: (re)start once Route53 says what it serves.
      if (!input.status) throw new Error('a cutover starts from the weights Route53 serves: pass them as verified');
      return { status: input.status, weights: input.status.weights, requeueAfterMs: 5000, events };
    }
    s = startCutover(plan, input.fingerprint, verified, now);
    // The request the old plan acted on stays acted on: an abort asked of it must not abort the new one.
    if (input.status?.handledRequest) s = { ...s, handledRequest: input.status.handledRequest };
    events.push({ type: 'Normal', reason: 'CutoverStarted', message: s.history[0]?.message ?? '' });
    if (input.status) note('PlanChanged', `the plan changed: starting again from ${s.startShare}%`);
  } else s = { ...input.status };

  if (verified) s = { ...s, verifiedWeights: verified, verifiedShare: shareOfWeights(verified) };

  // A request, acted on once; refused with the same rules `kubectl reservation` checks first.
  if (input.request && input.request !== s.handledRequest) {
    s = { ...s, handledRequest: input.request };
    const verb = parseCutoverRequest(input.request)?.verb;
    const refused = verbError(verb ?? input.request, s);
    if (refused || !verb) note('RequestRefused', `${input.request}: ${refused}`, 'Warning');
    else applyVerb(verb);
  }

  for (let pass = 0; pass < MAX_PASSES && advance(); pass++);
  return {
    status: s,
    weights: s.weights,
    ...(measure ? { measure } : {}),
    ...(measurePeerRate ? { measurePeerRate: true as const } : {}),
    ...(measureShare ? { measureShare } : {}),
    ...(measurePacing ? { measurePacing } : {}),
    ...(measureTakeBack ? { measureTakeBack: true as const } : {}),
    ...(requeueAfterMs ? { requeueAfterMs } : {}),
    events,
  };

  function applyVerb(verb: CutoverVerb) {
    const step = plan.steps[s.step];
    switch (verb) {
      case 'pause':
        s = { ...s, held: true };
        note('Paused', `paused at step ${s.step + 1} of ${s.steps} (${s.share}%) on request; resume or promote to go on`);
        return;
      case 'resume':
        if (step?.kind === 'pause' && step.durationMs === undefined && !s.held) enterStep(s.step + 1);
        else {
          delete s.held;
          // An analysis held as inconclusive runs again.
          if (step?.kind === 'analysis' && s.lastAnalysis?.result === 'Inconclusive') delete s.lastAnalysis;
        }
        note('Resumed', `resumed at step ${s.step + 1} of ${s.steps}`);
        return;
      case 'promote':
        if (step?.kind === 'setShare' && !stepSynced(step.share)) {
          note(
            'RequestRefused',
            `promote: step ${s.step + 1} is still waiting for Route53 to serve ${step.share}%; promote again once it is INSYNC`,
            'Warning',
          );
          return;
        }
        note('Promoted', `step ${s.step + 1} of ${s.steps} (${step ? describeStep(step) : 'done'}) skipped on request`);
        enterStep(s.step + 1);
        return;
      case 'promote-full': {
        const last = plan.steps.findLastIndex((p) => p.kind === 'setShare');
        note('PromotedFull', `promoted all the way: straight to step ${last + 1} (${describeStep(plan.steps[last] as PlanStep)})`);
        enterStep(Math.max(last, s.step));
        return;
      }
      case 'abort':
        startAbort('aborted on request');
        return;
      case 'retry': {
        if (!isFinished(s)) {
          // Degraded: the reconcile tries the step again anyway; now, on request.
          note('Retried', `trying step ${s.step + 1} of ${s.steps} again`);
          return;
        }
        const live = s.verifiedWeights ?? s.weights;
        const history = s.history;
        s = { ...startCutover(plan, input.fingerprint, live, now), handledRequest: s.handledRequest };
        s = { ...s, history: [...history, ...s.history].slice(-HISTORY_KEPT) };
        note('Retried', `the plan runs again from ${s.startShare}%`);
        return;
      }
    }
  }

  function startAbort(why: string) {
    s = { ...s, aborting: true };
    delete s.held;
    delete s.pacing;
    note('CutoverAborted', `${why}; returning traffic to ${plan.from} step by step, back to ${s.startShare}%`, 'Warning');
  }

  /** Whether Route53 serves `share` and has for at least one TTL. */
  function stepSynced(share: number) {
    return sameWeights(verified, weightsForShare(share)) && sameWeights(s.weights, weightsForShare(share)) && !!s.syncedAt;
  }

  /**
   * Moves the share to `share`: writes, waits for INSYNC, then one TTL. True when it has been
   * in sync for a TTL (the caller moves on).
   */
  function reachShare(share: number): boolean {
    const want = weightsForShare(share);
    if (!sameWeights(s.weights, want)) {
      const was = s.share;
      s = { ...s, weights: want, share };
      delete s.syncedAt;
      note('WeightsChanging', `${was}% → ${share}%: writing weights ${want.self} (here) / ${want.peer} (${plan.from})`);
    }
    if (!sameWeights(verified, want)) {
      s = { ...s, message: `waiting for Route53 to serve ${share}% everywhere (INSYNC)` };
      wait(5000);
      return false;
    }
    const syncedAt = s.syncedAt ?? iso(now);
    if (!s.syncedAt) {
      s = { ...s, syncedAt };
      note('WeightsVerified', `Route53 serves ${share}% here, ${100 - share}% at ${plan.from} (INSYNC)`);
    }
    const due = Date.parse(syncedAt) + ttlMs;
    if (now.getTime() < due) {
      s = { ...s, message: `${share}% in sync; waiting one TTL (${input.ttlSeconds}s) for cached answers to expire` };
      wait(due - now.getTime());
      return false;
    }
    return true;
  }

  /** One transition; false when the cutover has to wait. */
  function advance(): boolean {
    if (isFinished(s)) {
      s = { ...s, message: s.phase === 'Succeeded' ? `done: ${s.share}% here` : `aborted: back at ${s.share}%; retry runs the plan again` };
      return false;
    }
    s = { ...s, phase: s.aborting ? 'Aborted' : s.held ? 'Paused' : 'Progressing' };
    if (s.aborting) {
      if (!peerCanTakeBack()) return false;
      const [next] = abortShares(plan, s.share, s.startShare);
      if (next !== undefined) {
        if (!reachShare(next)) return false;
        // reachShare set share to `next`; the following pass goes further down.
        return next !== s.startShare || finishAbort();
      }
      if (!reachShare(s.startShare)) return false;
      return finishAbort();
    }
    if (s.held) {
      // Why it is held stays in view: a pause request, a slow burn or an inconclusive analysis.
      const why = s.history.findLast((h) => h.step === s.step && HELD_BY.has(h.event));
      const reason = why && why.event !== 'Paused' ? ` (${why.message})` : '';
      s = { ...s, message: `paused at step ${s.step + 1} of ${s.steps}${reason}: resume, promote or abort` };
      return false;
    }
    const step = plan.steps[s.step];
    if (!step) return drain();
    switch (step.kind) {
      case 'setShare': {
        if (!reachShare(step.share) || !trafficFollowed(step.share)) return false;
        if (!input.pacing) {
          note('StepCompleted', `step ${s.step + 1} of ${s.steps}: ${step.share}% verified and held for one TTL`);
          enterStep(s.step + 1);
          return true;
        }
        const paced = pacedStep(step.share, input.pacing);
        if (paced === 'done') enterStep(s.step + 1);
        return paced !== 'waiting';
      }
      case 'pause': {
        s = { ...s, phase: 'Paused' };
        if (step.durationMs === undefined) {
          s = { ...s, message: `step ${s.step + 1} of ${s.steps}: paused until promoted (kubectl reservation promote)` };
          return false;
        }
        const due = Date.parse(s.stepStartedAt) + step.durationMs;
        if (now.getTime() < due) {
          s = { ...s, message: `step ${s.step + 1} of ${s.steps}: pausing until ${iso(new Date(due))}` };
          wait(due - now.getTime());
          return false;
        }
        note('StepCompleted', `step ${s.step + 1} of ${s.steps}: pause of ${Math.round(step.durationMs / 1000)}s over`);
        enterStep(s.step + 1);
        return true;
      }
      case 'analysis':
        return analyze(step.template);
    }
  }

  /** Whether the traffic has followed the step (settle.ts): measured, waited for, or bounded with a Warning. */
  function trafficFollowed(share: number): boolean {
    if (!input.settle) return true;
    const settled = settleStep({
      share,
      syncedAt: new Date(s.syncedAt ?? iso(now)),
      ttlMs,
      settings: input.settle,
      ...(s.observed ? { last: s.observed } : {}),
      ...(input.measuredShare ? { measured: input.measuredShare } : {}),
      now,
    });
    if (settled.observed) s = { ...s, observed: settled.observed };
    switch (settled.kind) {
      case 'settled':
        if (settled.how === 'Bound' && !settled.again)
          note('ObservedShareBehind', `step ${s.step + 1} of ${s.steps}: ${settled.message}`, 'Warning');
        return true;
      case 'measure':
        measureShare = { windowMs: settled.windowMs };
        s = { ...s, message: settled.message };
        return false;
      case 'wait':
        s = { ...s, message: settled.message };
        wait(settled.ms);
        return false;
    }
  }

  /**
   * A setShare step in sync and held for a TTL, with pacing: done once enough requests are in (or
   * maxDwell is over) and the burn is calm; a fast burn aborts, a slow burn pauses.
   */
  function pacedStep(share: number, pacing: NonNullable<CutoverInput['pacing']>): 'done' | 'waiting' | 'aborting' {
    const since = iso(new Date(Date.parse(s.syncedAt as string) + ttlMs));
    const { measured } = pacing;
    const where = `step ${s.step + 1} of ${s.steps}`;
    // A measurement answers the step and the start it was asked for; any other is a new question.
    if (measured === undefined || (!(measured instanceof Error) && (measured.step !== s.step || measured.since !== since))) {
      measurePacing = { step: s.step, since };
      s = { ...s, message: `${where}: ${share}% in sync; asking Prometheus for its requests and burn rates (pacing)` };
      return 'waiting';
    }
    if (measured instanceof Error) {
      s = { ...s, message: `${where}: pacing has no measurement (${measured.message}); asking again in ${PACING_RETRY_MS / 1000}s` };
      wait(PACING_RETRY_MS);
      return 'waiting';
    }
    const decision = pace(pacing.settings, {
      step: s.step + 1,
      sharePercent: share,
      elapsedMs: now.getTime() - Date.parse(since),
      requests: measured.requests,
      totalRatePerSecond: measured.totalRatePerSecond,
      burn: measured.burn,
    });
    const unseen = measured.missing?.length
      ? `; Prometheus has no request series for ${measured.missing.join(' or ')} (check cutover.prometheus's label and values)`
      : '';
    const known = (n: number) => (Number.isFinite(n) ? n : undefined);
    const burnRates = Object.fromEntries(
      Object.entries(measured.burn).flatMap(([window, rate]) => (known(rate) === undefined ? [] : [[window, round(rate)]])),
    );
    s = {
      ...s,
      pacing: { step: s.step, requests: measured.requests, requestsNeeded: decision.requestsNeeded, burnRates, measuredAt: iso(now) },
    };
    switch (decision.action) {
      case 'abort':
        note('FastBurn', decision.message, 'Warning');
        startAbort(`${where}: fast burn`);
        return 'aborting';
      case 'pause':
        s = { ...s, held: true, phase: 'Paused', message: `${decision.message}; paused: resume measures again, promote skips the step` };
        note('SlowBurn', decision.message, 'Warning');
        return 'waiting';
      case 'wait':
        s = { ...s, message: `${decision.message}${unseen}` };
        wait(Math.max(PACING_POLL_MS, decision.waitMs ?? PACING_POLL_MS));
        return 'waiting';
      case 'advance':
        if (decision.shortOfRequests) note('PacingShortOfRequests', decision.message, 'Warning');
        note('StepCompleted', `${where}: ${share}% verified, held for one TTL and paced (${decision.message})`);
        return 'done';
    }
  }

  /**
   * Before an abort's first step down (with prescale): true once the peer has the pods for the
   * traffic it gets back, or Prometheus cannot say, or the wait for them is over; until then its
   * floors are asked of it (status.traffic.cutover.takeBack, written to its TXT by the sync).
   */
  function peerCanTakeBack(): boolean {
    if (!input.takeBack || (s.takeBack && s.takeBack.state !== 'Raising')) return true;
    const { measured } = input.takeBack;
    if (measured === undefined) {
      measureTakeBack = true;
      s = { ...s, message: `aborting: checking that ${plan.from} has the pods to take the traffic back` };
      return false;
    }
    const since = s.takeBack?.since ?? iso(now);
    if (measured instanceof Error) {
      const message = `cannot tell whether ${plan.from} has the pods to take the traffic back (${measured.message}); walking back now`;
      s = { ...s, takeBack: { ...s.takeBack, state: 'Unknown', since, message } };
      note('TakeBackUnknown', message, 'Warning');
      return true;
    }
    const short = takeBackShortfall(measured.needed, measured.ready);
    const floors = describeFloors(measured.needed);
    if (short.length === 0) {
      const message = `${plan.from} has the pods to take the traffic back (needs ${floors})`;
      if (s.takeBack) note('TakeBackReady', message);
      s = { ...s, takeBack: { ...s.takeBack, state: 'Ready', since, message } };
      return true;
    }
    if (!s.takeBack) {
      const message = `${plan.from} cannot take the traffic back yet (${short.join(', ')}): its floors are raised to ${floors}, and the walk back waits for its pods`;
      s = { ...s, takeBack: { state: 'Raising', floors: measured.needed, since, message } };
      note('PeerPreScaling', message, 'Warning');
    }
    const due = Date.parse(since) + TAKE_BACK_WAIT_MS;
    if (now.getTime() >= due) {
      const message = `${plan.from} still short after ${TAKE_BACK_WAIT_MS / 60_000}m (${short.join(', ')}): walking back anyway, its floors kept raised`;
      s = { ...s, takeBack: { ...(s.takeBack as NonNullable<CutoverStatus['takeBack']>), state: 'Short', message } };
      note('TakeBackShort', message, 'Warning');
      return true;
    }
    s = {
      ...s,
      message: `aborting: waiting for ${plan.from}'s pods to take the traffic back (${short.join(', ')}), at most until ${iso(new Date(due))}`,
    };
    wait(TAKE_BACK_POLL_MS);
    return false;
  }

  function analyze(template: string): boolean {
    s = { ...s, phase: 'Analyzing' };
    const run = s.lastAnalysis?.step === s.step && s.lastAnalysis.startedAt >= s.stepStartedAt ? s.lastAnalysis : undefined;
    const settings = input.analysis[template];
    if (!settings) {
      // The CRD refuses this; a plan edited under a running cutover is the only way here.
      startAbort(`analysis template "${template}" is not in spec.traffic.cutover.analysis`);
      return true;
    }
    if (!run) {
      measure = { template };
      s = { ...s, message: `step ${s.step + 1} of ${s.steps}: analysis ${template} starting` };
      return false;
    }
    switch (run.result) {
      case 'Successful':
        note('AnalysisSuccessful', `analysis ${template}: ${run.message}`);
        enterStep(s.step + 1);
        return true;
      case 'Failed':
        note('AnalysisFailed', `analysis ${template}: ${run.message}`, 'Warning');
        startAbort(`analysis ${template} failed`);
        return true;
      case 'Inconclusive':
        if (settings.inconclusive === 'Abort') {
          note('AnalysisInconclusive', `analysis ${template}: ${run.message}`, 'Warning');
          startAbort(`analysis ${template} was inconclusive`);
          return true;
        }
        s = { ...s, held: true, phase: 'Paused' };
        note('AnalysisInconclusive', `analysis ${template}: ${run.message}; paused: resume runs it again, promote skips it`, 'Warning');
        return false;
      case 'Running': {
        const due = Date.parse(run.measuredAt ?? run.startedAt) + (parseDuration(settings.interval) ?? 30_000);
        if (now.getTime() >= due) measure = { template, run };
        else wait(due - now.getTime());
        s = { ...s, message: `step ${s.step + 1} of ${s.steps}: analysis ${template}, ${run.measurements} measurement(s) so far` };
        return false;
      }
    }
  }

  /**
   * After the last step: when the peer is at 0, hold for drainTtls TTLs and, with a threshold,
   * until the peer's own request rate is below it (clients that ignore TTLs); then Succeeded.
   */
  function drain(): boolean {
    if (s.weights.peer === 0) {
      const due = Date.parse(s.syncedAt ?? iso(now)) + input.drainTtls * ttlMs;
      if (now.getTime() < due) {
        s = {
          ...s,
          message: `draining ${plan.from}: weight 0 in sync; waiting ${input.drainTtls} TTLs for stale resolvers, until ${iso(new Date(due))}`,
        };
        wait(due - now.getTime());
        return false;
      }
      const rate = input.peerRate;
      if (rate && rate.measured === undefined) {
        measurePeerRate = true;
        s = { ...s, message: `draining ${plan.from}: measuring its request rate` };
        return false;
      }
      if (rate && (rate.measured instanceof Error || (rate.measured as number) >= rate.below)) {
        const seen = rate.measured instanceof Error ? `no rate (${rate.measured.message})` : `${round(rate.measured as number)} requests/s`;
        s = { ...s, message: `draining ${plan.from}: it still serves ${seen}; waiting until below ${rate.below}/s` };
        wait(PEER_RATE_POLL_MS);
        return false;
      }
    }
    s = { ...s, finishedAt: iso(now), phase: 'Succeeded' };
    note('CutoverSucceeded', `${s.share}% here, ${100 - s.share}% at ${plan.from}: the plan is done`);
    return false;
  }

  function finishAbort(): boolean {
    s = { ...s, finishedAt: iso(now), phase: 'Aborted' };
    delete s.aborting;
    note('AbortCompleted', `back at ${s.share}% here, ${100 - s.share}% at ${plan.from}`, 'Warning');
    return false;
  }
}
