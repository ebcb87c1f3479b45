import type { AnalysisTemplate, ReservationSpec, ServiceName } from '../api/v1alpha1/reservation.ts';
import { SERVICES } from '../desired/metadata.ts';
import { judgePeer } from './analysis/peer-judge.ts';
import { analysisIntervalMs } from './analysis/run.ts';
import { firstStep } from './cutover.ts';

import { expectedDwellMs, PACING_NEEDS_PROMETHEUS, type PacingSettings, pacingSettings, requestsNeeded } from './pacing.ts';
import { buildPlan, type Cutover, describeStep, formatDuration, type PlanStep, parseDuration } from './plan.ts';

import { PRESCALED, type PrescaledService, prescaleFloors } from './prescale.ts';

/**
 * A plan's preview before anyone starts it (pure): for each step, when it starts, how long it
 * dwells and when it ends, the replicas pre-scaling will ask for, whether the peer could take
 * the traffic back at that step, the Route53 calls, and the analyses that will be inconclusive
 * for want of traffic; then the findings a reviewer wants before approving the plan.
 *
 * It runs the operator's own pieces: buildPlan (the plan the executor runs), firstStep (where a
 * plan starts from the share Route53 serves), prescaleFloors (the floors the operator sets) and
 * judgePeer (the peer analysis's verdict), so the preview and the cutover cannot drift apart.
 *
 * The timing follows the executor (cutover.ts, cutover-sync.ts): a setShare step writes one
 * batch, waits until Route53 reports it INSYNC (the executor looks one second after the write,
 * then every `pendingPollSeconds`), then holds one TTL; a pause lasts its duration; a threshold
 * analysis takes `count` measurements one interval apart (the first at once from Prometheus,
 * after one interval when it scrapes the services itself); a peer analysis ends at its first
 * verdict, predicted here by judging the counts each look would see if this cluster behaved as
 * the clusters do now; with pacing, a setShare step then dwells until this cluster has served
 * the requests pacing.ts asks for at the rates read now (within minDwell and maxDwell); the drain
 * holds `drain.ttls` TTLs from the last step's INSYNC.
 */

/** What the preview is computed from, besides the plan: read live by the caller. */
export interface PreviewFacts {
  /** This cluster's set identifier (spec.traffic.cluster). */
  self: string;
  ttlSeconds: number;
  /** This cluster's share of Route53's answers now, percent: where the plan starts. */
  startShare: number;
  /** How long Route53 takes to report a change INSYNC (AWS: usually within 60 s; moto: at once). */
  route53SyncSeconds: number;
  /** How long a new pod takes to be available once pre-scaling asks for it. */
  podStartSeconds: number;
  /** Each HTTP service's request rate now, both clusters together, per second (the prescale query); absent when unknown. */
  rates?: Readonly<Record<PrescaledService, number>>;
  /** The share of requests answered with a 5xx now, both clusters (0 when unknown): the peer analysis's prediction. */
  errorRate?: number;
  /** This cluster's services (their HPA bounds) and pods ready now. */
  services: ReservationSpec['services'];
  ready?: Partial<Record<ServiceName, number>>;
  /** The peer's HPA bounds and pods ready now, when its cluster could be read. */
  peer?: { services?: ReservationSpec['services']; ready?: Partial<Record<ServiceName, number>> };
  /** Whether the Prometheus pre-scaling reads has series of both clusters; undefined when it was not asked. */
  prometheusSeesBoth?: boolean;
  /** Why `rates` or `prometheusSeesBoth` are missing (Prometheus unreachable, no series). */
  prometheusProblem?: string;
}

export const PENDING_POLL_SECONDS = 5;
/** Route53's documented limit: five requests per second per AWS account. */
export const ROUTE53_LIMIT_PER_SECOND = 5;

export type TakeBackVerdict = 'ready' | 'scales' | 'short' | 'unknown';

export interface TakeBackService {
  service: PrescaledService;
  /** Requests per second the peer would get back: everything the cutover moved. */
  load: number;
  /** Pods that load needs (at requestsPerPod, no headroom). */
  needed: number;
  ready?: number;
  max?: number;
  /** ready: its ready pods carry it; scales: its HPA must add pods (within max) first; short: more than its max. */
  verdict: TakeBackVerdict;
}

export interface AnalysisPreview {
  template: string;
  kind: 'threshold' | 'peer';
  /** This cluster's expected requests: per measurement (threshold), or in the longest window (peer). */
  requests?: number;
  /** The peer's expected requests in the longest window (peer). */
  peerRequests?: number;
  /** The template's floor: minRequests, or peer.minRequests. */
  floor: number;
  inconclusive: boolean;
  /** Why it is predicted inconclusive, or how long it is expected to take. */
  reason: string;
}

export interface StepPreview {
  /** 1-based, as the plan and `kubectl reservation status` count. */
  number: number;
  description: string;
  kind: PlanStep['kind'];
  /** Already behind the share the cutover starts from: it does not run. */
  skipped: boolean;
  /** This cluster's share once the step is done, percent. */
  share: number;
  startSeconds: number;
  dwellSeconds: number;
  endSeconds: number;
  /** False for a pause that waits for a promote: its dwell (0 here) is whoever promotes. */
  dwellKnown: boolean;
  /** What the dwell is made of, for people. */
  dwellNote: string;
  /** Floors pre-scaling asks for before this share (setShare steps that raise it, with prescale and rates). */
  prescale?: Partial<Record<PrescaledService, { floor: number; ready?: number }>>;
  /** With pacing: maxDwell ends the step before its requests are in, at the rates read now. */
  pacedShortOfRequests?: boolean;
  /** Whether the peer could take the traffic back at this step (setShare steps). */
  takeBack?: TakeBackService[];
  /** Route53 calls this step makes (setShare steps: the batch, its INSYNC polls, the reads around it). */
  route53Calls: number;
  analysis?: AnalysisPreview;
}

export type FindingCode =
  | 'plan-invalid'
  | 'ttl-longer-than-pause'
  | 'first-step-above-25'
  | 'no-analysis-before-100'
  | 'drain-shorter-than-two-ttls'
  | 'prescale-without-both-clusters'
  | 'manual-pause'
  | 'analysis-inconclusive'
  | 'take-back-short'
  | 'pacing-short-of-requests'
  | 'no-rates';

export interface Finding {
  code: FindingCode;
  severity: 'warning' | 'info';
  /** The step it is about, 1-based. */
  step?: number;
  message: string;
}

export interface PlanPreview {
  from: string;
  self: string;
  startShare: number;
  ttlSeconds: number;
  route53SyncSeconds: number;
  /** Why the plan cannot run; then there are no steps. */
  errors: string[];
  steps: StepPreview[];
  /** After the last step: the drain's hold before Succeeded. */
  drain: { startSeconds: number; dwellSeconds: number; endSeconds: number; note: string };
  /** Start to Succeeded, seconds. */
  etaSeconds: number;
  /** True when a pause waits for a promote: the ETA counts those as 0 and is a lower bound. */
  etaIsLowerBound: boolean;
  route53: { calls: number; peakPerSecond: number; limitPerSecond: number };
  /** Every HTTP service's rate now, both clusters, per second, as read. */
  rates?: Readonly<Record<PrescaledService, number>>;
  findings: Finding[];
}

/** The preview of `cutover` for this cluster, from the live facts. */
export function previewPlan(cutover: Cutover, facts: PreviewFacts): PlanPreview {
  const base = {
    from: cutover.from,
    self: facts.self,
    startShare: facts.startShare,
    ttlSeconds: facts.ttlSeconds,
    route53SyncSeconds: facts.route53SyncSeconds,
    ...(facts.rates ? { rates: facts.rates } : {}),
  };
  const built = buildPlan(cutover, facts.self);
  let pacing: PacingSettings | undefined;
  const errors = built.ok ? [] : [...built.errors];
  try {
    pacing = cutover.pacing && pacingSettings(cutover.pacing);
    if (pacing && !cutover.prometheus) throw new RangeError(PACING_NEEDS_PROMETHEUS);
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (!built.ok || errors.length > 0) {
    return {
      ...base,
      errors,
      steps: [],
      drain: { startSeconds: 0, dwellSeconds: 0, endSeconds: 0, note: '' },
      etaSeconds: 0,
      etaIsLowerBound: false,
      route53: { calls: 0, peakPerSecond: 0, limitPerSecond: ROUTE53_LIMIT_PER_SECOND },
      findings: errors.map((message) => ({ code: 'plan-invalid', severity: 'warning', message })),
    };
  }
  const { plan } = built;
  const ttl = facts.ttlSeconds;
  const templates = new Map((cutover.analysis ?? []).map((t) => [t.name, t]));
  const first = firstStep(plan, facts.startShare);
  const total = facts.rates ? PRESCALED.reduce((sum, name) => sum + (facts.rates?.[name] ?? 0), 0) : undefined;

  const steps: StepPreview[] = [];
  let at = 0;
  let share = facts.startShare;
  let lastSyncedAt: number | undefined;
  plan.steps.forEach((step, i) => {
    const common = { number: i + 1, description: describeStep(step), kind: step.kind };
    if (i < first) {
      if (step.kind === 'setShare') share = step.share;
      steps.push({
        ...common,
        skipped: true,
        share,
        startSeconds: at,
        dwellSeconds: 0,
        endSeconds: at,
        dwellKnown: true,
        dwellNote: 'behind the starting share',
        route53Calls: 0,
      });
      return;
    }
    let dwell = 0;
    let dwellKnown = true;
    let note = '';
    let route53Calls = 0;
    const extra: Partial<StepPreview> = {};
    switch (step.kind) {
      case 'setShare': {
        const rising = step.share > share;
        let prescaleWait = 0;
        if (cutover.prescale && rising && facts.rates) {
          const floors = prescaleFloors(facts.services, cutover.prescale, facts.rates, step.share);
          extra.prescale = {};
          for (const name of PRESCALED) {
            const floor = floors[name] ?? 0;
            const ready = facts.ready?.[name];
            extra.prescale[name] = { floor, ...(ready !== undefined ? { ready } : {}) };
            if (floor > (ready ?? 0)) prescaleWait = facts.podStartSeconds;
          }
        }
        const moves = step.share !== share;
        const seen = moves ? insyncSeenSeconds(facts.route53SyncSeconds) : 0;
        const paced = pacing ? pacedDwell(pacing, total, step.share) : undefined;
        const settle = moves ? settleSeconds(cutover) : 0;
        // Both count from the TTL: the observed share settles within the paced dwell, or the dwell waits for it.
        dwell = prescaleWait + seen + ttl + Math.max(settle, paced?.seconds ?? 0);
        lastSyncedAt = at + prescaleWait + seen;
        note = [
          prescaleWait ? `${prescaleWait}s for pre-scaled pods` : '',
          moves ? `${seen}s until INSYNC is seen` : 'already served',
          `one TTL (${ttl}s) held`,
          settle ? `about ${settle}s for the observed share (one settle window; the clients decide)` : '',
          paced?.note ?? '',
        ]
          .filter(Boolean)
          .join(' + ');
        if (paced?.shortOfRequests) extra.pacedShortOfRequests = true;
        // The read before the batch, the batch, GetChange until INSYNC, the read after it.
        route53Calls = moves ? 3 + getChangeCalls(facts.route53SyncSeconds) : 0;
        share = step.share;
        extra.takeBack = takeBack(cutover, facts, total, share);
        break;
      }
      case 'pause':
        if (step.durationMs === undefined) {
          dwellKnown = false;
          note = 'until promoted (counted as 0)';
        } else {
          dwell = step.durationMs / 1000;
          note = `pause ${dwell}s`;
        }
        break;
      case 'analysis': {
        const template = templates.get(step.template);
        if (!template) {
          note = `analysis ${step.template} is not in spec.traffic.cutover.analysis`;
          break;
        }
        const predicted = previewAnalysis(template, facts, share, cutover.from);
        dwell = predicted.dwellSeconds;
        note = predicted.analysis.reason;
        extra.analysis = predicted.analysis;
        break;
      }
    }
    steps.push({
      ...common,
      skipped: false,
      share,
      startSeconds: at,
      dwellSeconds: dwell,
      endSeconds: at + dwell,
      dwellKnown,
      dwellNote: note,
      route53Calls,
      ...extra,
    });
    at += dwell;
  });

  // The drain holds drain.ttls TTLs from the last step's INSYNC; the step's own TTL is the first of them.
  const drainDue = share === 100 && lastSyncedAt !== undefined ? Math.max(at, lastSyncedAt + cutover.drain.ttls * ttl) : at;
  const drainDwell = drainDue - at;
  const drainNote =
    share === 100
      ? `${cutover.drain.ttls} TTLs from the last step's INSYNC${cutover.drain.peerRate ? `, then until ${cutover.from} serves under ${cutover.drain.peerRate.below} req/s (not predicted)` : ''}`
      : `the plan ends at ${share}%: ${cutover.from} keeps its share, no drain`;
  const eta = drainDue;
  const etaIsLowerBound = steps.some((s) => !s.skipped && !s.dwellKnown);

  // The peer's operator reads its ownership TXT once a TTL while the cutover writes its weight.
  const peerReads = Math.ceil(eta / ttl);
  const calls = steps.reduce((sum, s) => sum + s.route53Calls, 0) + peerReads;
  // The busiest second: a step's read and batch, and the peer's read landing in the same second.
  const peakPerSecond = steps.some((s) => s.route53Calls > 0) ? 2 + 1 : 1;

  const preview: PlanPreview = {
    ...base,
    errors: [],
    steps,
    drain: { startSeconds: at, dwellSeconds: drainDwell, endSeconds: drainDue, note: drainNote },
    etaSeconds: eta,
    etaIsLowerBound,
    route53: { calls, peakPerSecond, limitPerSecond: ROUTE53_LIMIT_PER_SECOND },
    findings: [],
  };
  preview.findings = findings(cutover, plan.steps, preview, facts);
  return preview;
}

/** A paced step's dwell after its TTL, at `total` requests/s both clusters (unknown: up to maxDwell). */
function pacedDwell(s: PacingSettings, total: number | undefined, share: number) {
  if (total === undefined) {
    return {
      seconds: s.maxDwellMs / 1000,
      note: `paced: no request rates, up to maxDwell ${formatDuration(s.maxDwellMs)}`,
      shortOfRequests: false,
    };
  }
  const seconds = expectedDwellMs(s, total, share) / 1000;
  const needed = requestsNeeded(s, total);
  const rate = (total * share) / 100;
  const shortOfRequests = rate <= 0 || needed / rate > s.maxDwellMs / 1000;
  const why = shortOfRequests
    ? `maxDwell before its ${needed} requests are in`
    : seconds === s.minDwellMs / 1000
      ? `minDwell (its ${needed} requests take less)`
      : `${needed} requests at ${Number(rate.toFixed(1))}/s`;
  return { seconds, note: `paced ${formatDuration(seconds * 1000)}: ${why}`, shortOfRequests };
}

/** `2m35s`, or `at least 2m35s` when a pause waits for a promote. */
export function formatPreviewEta(preview: Pick<PlanPreview, 'etaSeconds' | 'etaIsLowerBound'>): string {
  return `${preview.etaIsLowerBound ? 'at least ' : ''}${formatDuration(Math.round(preview.etaSeconds) * 1000) ?? '0s'}`;
}

/** When the executor sees a batch INSYNC: one second after the write, then every PENDING poll. */
export function insyncSeenSeconds(syncSeconds: number): number {
  if (syncSeconds <= 1) return 1;
  return 1 + Math.ceil((syncSeconds - 1) / PENDING_POLL_SECONDS) * PENDING_POLL_SECONDS;
}

function getChangeCalls(syncSeconds: number): number {
  return syncSeconds <= 1 ? 0 : Math.ceil((syncSeconds - 1) / PENDING_POLL_SECONDS);
}

/**
 * What settle adds to a step that moves the share, as an estimate: the observed share is
 * measured over settle.window, and with the peer's connections rebalanced over a TTL the window
 * mostly holds traffic that has followed once it is that long; never more than settle.maxWait.
 */
function settleSeconds(cutover: Cutover): number {
  const s = cutover.settle;
  if (!s || !cutover.prometheus) return 0;
  return Math.min(parseDuration(s.window ?? '30s') ?? 30_000, parseDuration(s.maxWait ?? '5m') ?? 300_000) / 1000;
}

/**
 * Whether the peer could carry again everything the cutover has moved, if it aborted at `share`:
 * the peer holds its replicas while handed over (prescale.ts), so its ready pods now are what it
 * has then; pods per request from this cluster's prescale.requestsPerPod (the same images).
 */
function takeBack(cutover: Cutover, facts: PreviewFacts, total: number | undefined, share: number): TakeBackService[] | undefined {
  if (share <= facts.startShare || !facts.rates || total === undefined) return undefined;
  const perPod = cutover.prescale?.requestsPerPod;
  return PRESCALED.map((service) => {
    // An abort walks back to the starting share: the peer gets back 100 − start % of the load.
    const load = ((facts.rates?.[service] ?? 0) * (100 - facts.startShare)) / 100;
    const needed = perPod ? Math.ceil(load / perPod[service] - 1e-9) : Number.NaN;
    const ready = facts.peer?.ready?.[service];
    const max = facts.peer?.services?.[service].replicas.max;
    let verdict: TakeBackVerdict = 'unknown';
    if (perPod && ready !== undefined) verdict = needed <= ready ? 'ready' : max !== undefined && needed > max ? 'short' : 'scales';
    return {
      service,
      load: round(load),
      needed: Number.isFinite(needed) ? needed : 0,
      ...(ready !== undefined ? { ready } : {}),
      ...(max !== undefined ? { max } : {}),
      verdict,
    };
  });
}

function previewAnalysis(
  template: AnalysisTemplate,
  facts: PreviewFacts,
  share: number,
  from: string,
): { dwellSeconds: number; analysis: AnalysisPreview } {
  const interval = analysisIntervalMs(template) / 1000;
  const total = facts.rates ? PRESCALED.reduce((sum, name) => sum + (facts.rates?.[name] ?? 0), 0) : undefined;
  if (template.peer) {
    const longest = (template.count - 1) * interval;
    const floor = template.peer.minRequests;
    const peerResult = (dwellSeconds: number, inconclusive: boolean, reason: string, seen?: { self: number; peer: number }) => ({
      dwellSeconds,
      analysis: {
        template: template.name,
        kind: 'peer' as const,
        ...(seen ? { requests: round(seen.self), peerRequests: round(seen.peer) } : {}),
        floor,
        inconclusive,
        reason,
      },
    });
    if (total === undefined) return peerResult(longest, false, `no request rate: up to ${template.count} looks, ${longest}s`);
    // Each look counts from one interval before the run began (analysis/index.ts): look k sees k intervals.
    const counts = (k: number) => ({ self: (total * share * k * interval) / 100, peer: (total * (100 - share) * k * interval) / 100 });
    const last = counts(template.count);
    if (last.self < floor || last.peer < floor) {
      const who = last.self < floor ? `${facts.self} ${Math.floor(last.self)}` : `${from} ${Math.floor(last.peer)}`;
      return peerResult(
        longest,
        true,
        `at ${share}% even ${template.count} looks see too few requests (${who}; peer.minRequests ${floor} each)`,
        last,
      );
    }
    if (!template.peer.errorRate || template.peer.latency) {
      return peerResult(longest, false, `ends at its first verdict, at most ${template.count} looks (${longest}s)`, last);
    }
    const rate = facts.errorRate ?? 0;
    const settings = { confidence: template.peer.confidence, minRequests: floor, errorRate: template.peer.errorRate };
    for (let k = 1; k <= template.count; k++) {
      const seen = counts(k);
      const { verdict } = judgePeer(
        settings,
        { cluster: facts.self, requests: Math.floor(seen.self), errors: Math.round(seen.self * rate), buckets: [] },
        { cluster: from, requests: Math.floor(seen.peer), errors: Math.round(seen.peer * rate), buckets: [] },
      );
      const dwell = (k - 1) * interval;
      if (verdict === 'ok')
        return peerResult(dwell, false, `passes at look ${k} (${dwell}s) if ${facts.self} errs as the clusters do now`, seen);
    }
    return peerResult(
      longest,
      true,
      `no verdict within ${template.count} looks even if ${facts.self} errs as the clusters do now: too little traffic for the allowance`,
      last,
    );
  }
  // A threshold analysis: the first measurement at once from Prometheus; the metrics source takes a baseline first.
  const dwell = (template.metrics ? template.count : template.count - 1) * interval;
  const floor = template.minRequests;
  if (total === undefined) {
    return {
      dwellSeconds: dwell,
      analysis: {
        template: template.name,
        kind: 'threshold',
        floor,
        inconclusive: false,
        reason: `${template.count} measurements, ${dwell}s; no request rate to check minRequests`,
      },
    };
  }
  const perMeasurement = (total * share * interval) / 100;
  const inconclusive = perMeasurement < floor;
  return {
    dwellSeconds: dwell,
    analysis: {
      template: template.name,
      kind: 'threshold',
      requests: round(perMeasurement),
      floor,
      inconclusive,
      reason: inconclusive
        ? `at ${share}%, about ${Math.floor(perMeasurement)} requests per ${template.interval} measurement, fewer than minRequests ${floor}`
        : `${template.count} measurements, ${dwell}s; about ${Math.floor(perMeasurement)} requests each`,
    },
  };
}

function findings(cutover: Cutover, planSteps: PlanStep[], preview: PlanPreview, facts: PreviewFacts): Finding[] {
  const out: Finding[] = [];
  const ttl = facts.ttlSeconds;
  planSteps.forEach((step, i) => {
    if (step.kind === 'pause' && step.durationMs !== undefined && step.durationMs / 1000 < ttl) {
      out.push({
        code: 'ttl-longer-than-pause',
        severity: 'warning',
        step: i + 1,
        message: `the TTL (${ttl}s) is longer than this pause (${step.durationMs / 1000}s): resolvers still serve the previous answer for part of it, so the pause watches less traffic at the new share than it seems`,
      });
    }
  });
  const firstShare = planSteps.find((s) => s.kind === 'setShare');
  if (firstShare?.kind === 'setShare' && firstShare.share > 25) {
    out.push({
      code: 'first-step-above-25',
      severity: 'warning',
      step: planSteps.indexOf(firstShare) + 1,
      message: `the first step sends ${firstShare.share}% here at once: more than 25% before anything has been seen at a small share; start at 10% or less`,
    });
  }
  const full = planSteps.findIndex((s) => s.kind === 'setShare' && s.share === 100);
  if (full !== -1 && !planSteps.slice(0, full).some((s) => s.kind === 'analysis')) {
    out.push({
      code: 'no-analysis-before-100',
      severity: 'warning',
      step: full + 1,
      message: 'no analysis step before 100%: all the traffic moves here without a check of the SLOs at a smaller share',
    });
  }
  if (cutover.drain.ttls < 2) {
    out.push({
      code: 'drain-shorter-than-two-ttls',
      severity: 'warning',
      message: `drain.ttls is ${cutover.drain.ttls}: the cutover succeeds one TTL after ${cutover.from}'s weight 0 is INSYNC, while resolvers and keep-alive clients may still reach it; keep at least 2 (3-4 with connectionClose before tearing ${cutover.from} down)`,
    });
  }
  if (cutover.prescale && facts.prometheusSeesBoth !== true) {
    const why =
      facts.prometheusSeesBoth === false
        ? `it has series of only one cluster`
        : `it could not be asked${facts.prometheusProblem ? ` (${facts.prometheusProblem})` : ''}`;
    out.push({
      code: 'prescale-without-both-clusters',
      severity: 'warning',
      message: `prescale reads the load from ${cutover.prescale.prometheus.url}, but ${why}: pre-scaling needs both clusters' requests, or it sizes this cluster for a fraction of the load`,
    });
  }
  if (!facts.rates) {
    out.push({
      code: 'no-rates',
      severity: 'info',
      message: `no request rates${facts.prometheusProblem ? ` (${facts.prometheusProblem})` : ''}: no pre-scaling, take-back or analysis traffic predicted`,
    });
  }
  for (const s of preview.steps) {
    if (s.skipped) continue;
    if (!s.dwellKnown) {
      out.push({
        code: 'manual-pause',
        severity: 'info',
        step: s.number,
        message: 'this pause waits for a promote: the ETA counts it as 0',
      });
    }
    if (s.pacedShortOfRequests) {
      out.push({
        code: 'pacing-short-of-requests',
        severity: 'warning',
        step: s.number,
        message: `at ${s.share}% this cluster would not serve the requests pacing asks for before maxDwell (${cutover.pacing?.maxDwell}) at the rates read now: the step will go on short of them, with a warning`,
      });
    }
    if (s.analysis?.inconclusive) {
      const template = cutover.analysis?.find((t) => t.name === s.analysis?.template);
      out.push({
        code: 'analysis-inconclusive',
        severity: 'warning',
        step: s.number,
        message: `analysis ${s.analysis.template} is predicted Inconclusive: ${s.analysis.reason}; the cutover will ${template?.inconclusive === 'Abort' ? 'abort' : 'pause'} there`,
      });
    }
  }
  // The peer gets the same load back at every step (all of it, to the starting share): said once, at the first step it applies to.
  const shortAt = preview.steps.find((s) => s.takeBack?.some((t) => t.verdict === 'short' || t.verdict === 'scales'));
  if (shortAt?.takeBack) {
    const listed = shortAt.takeBack
      .filter((t) => t.verdict === 'short' || t.verdict === 'scales')
      .map(
        (t) =>
          `${SERVICES[t.service].component} needs ${t.needed} pods, has ${t.ready} ready${t.verdict === 'short' ? `, more than its max ${t.max}` : ''}`,
      )
      .join('; ');
    out.push({
      code: 'take-back-short',
      severity: 'warning',
      step: shortAt.number,
      message: `${preview.from} could not take the traffic back at once if the cutover aborted from here on: ${listed}`,
    });
  }
  return out;
}

/**
 * Whether a Prometheus's `cluster` label values include both sides of the cutover: a side is seen
 * when any of its names (set identifier, a peer template's label value, a kube context) is.
 */
export function seesBothClusters(values: readonly string[], selfNames: readonly string[], peerNames: readonly string[]): boolean {
  const seen = new Set(values);
  return selfNames.some((n) => seen.has(n)) && peerNames.some((n) => seen.has(n));
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
