import type { CutoverView } from '../cutover-view.ts';

/**
 * The dashboard's data (pure, shared by the server and the page's bundle): each cluster's
 * `cutoverView` (what `kubectl reservation status -w` shows) with whether the cluster answers,
 * Prometheus's figures per cluster, and the chart's series over time: the share each cluster is
 * asked for, the share Route53 serves (INSYNC) and the share of requests it actually received.
 * Shares are percent of the name's traffic; null where unknown (a cluster or Prometheus that does
 * not answer leaves a gap instead of a stale value).
 */

export interface ClusterState {
  /** The kubeconfig context. */
  context: string;
  /** The last call to this cluster (watch or read) got an answer. */
  reachable: boolean;
  /** Why it cannot be reached, or why the Reservation cannot be read (not found, forbidden). */
  error?: string;
  /** When the cluster last answered; with reachable false, `view` is as of then. */
  lastAnsweredAt?: string;
  view?: CutoverView;
}

export interface ClusterFigures {
  /** Requests per second over the last window, 5xx included. */
  requestRate?: number;
  /** Share of requests answered 5xx, 0-1. */
  errorRate?: number;
  p99Ms?: number;
  /** This cluster's share of the requests both clusters received, percent. */
  observedPercent?: number;
}

export interface PrometheusState {
  /** Absent when the dashboard was started without --prometheus. */
  url?: string;
  reachable: boolean;
  error?: string;
  checkedAt?: string;
  /** By context; empty while Prometheus cannot be reached. */
  clusters: Record<string, ClusterFigures>;
}

export interface DashboardState {
  namespace: string;
  name: string;
  generatedAt: string;
  clusters: ClusterState[];
  prometheus: PrometheusState;
}

/** One moment of the chart: per context, the three shares (percent). */
export interface TimelinePoint {
  /** Milliseconds since the epoch. */
  at: number;
  clusters: Record<string, { desired: number | null; verified: number | null; observed: number | null }>;
}

/** A vertical mark on the chart: a step starting, or an analysis verdict. */
export interface ChartMark {
  at: number;
  kind: 'step' | 'verdict';
  /** For verdicts: how it went, for the colour. */
  outcome?: 'success' | 'failure' | 'inconclusive';
  label: string;
}

export interface ChartSeries {
  /** Seconds since the epoch (uPlot's x unit). */
  x: number[];
  desired: (number | null)[];
  verified: (number | null)[];
  observed: (number | null)[];
  marks: ChartMark[];
}

/** The executor's history events that begin or end a step (its status has no StepStarted of its own). */
const STEP_EVENTS = new Set([
  'CutoverStarted',
  'StepStarted',
  'StepCompleted',
  'Promoted',
  'PromotedFull',
  'PlanChanged',
  'CutoverAborted',
  'CutoverSucceeded',
]);

const VERDICTS: Record<string, ChartMark['outcome']> = {
  AnalysisSuccessful: 'success',
  AnalysisFailed: 'failure',
  AnalysisInconclusive: 'inconclusive',
};

/**
 * Each cluster's desired and verified share, from the views that answer. A cluster running a
 * cutover knows both sides' weights (its plan's and the INSYNC ones), so its figures are used for
 * both clusters; otherwise each record's weight against the other's.
 */
export function clusterShares(clusters: readonly ClusterState[]): Record<string, { desired: number | null; verified: number | null }> {
  const out: Record<string, { desired: number | null; verified: number | null }> = {};
  for (const c of clusters) out[c.context] = { desired: null, verified: null };
  const live = clusters.filter((c) => c.reachable && c.view?.record);
  const runner = live.find((c) => c.view?.cutover);
  if (runner?.view?.cutover) {
    const { share } = runner.view.cutover;
    const peer = live.find((c) => c !== runner);
    out[runner.context] = { desired: share.desiredPercent, verified: share.verifiedPercent ?? null };
    if (peer) {
      out[peer.context] = {
        desired: round(100 - share.desiredPercent),
        verified: share.verifiedPercent === undefined ? null : round(100 - share.verifiedPercent),
      };
    }
    return out;
  }
  if (live.length !== 2) return out;
  const [a, b] = live as [ClusterState, ClusterState];
  const weight = (c: ClusterState, which: 'desiredWeight' | 'verifiedWeight') => c.view?.record?.[which];
  for (const which of ['desiredWeight', 'verifiedWeight'] as const) {
    const wa = weight(a, which);
    const wb = weight(b, which);
    if (wa === undefined || wb === undefined) continue;
    // Route53's rule: all weights 0 answer each record equally.
    const total = wa + wb;
    const key = which === 'desiredWeight' ? 'desired' : 'verified';
    (out[a.context] as Record<string, number | null>)[key] = total === 0 ? 50 : round((wa * 100) / total);
    (out[b.context] as Record<string, number | null>)[key] = total === 0 ? 50 : round((wb * 100) / total);
  }
  return out;
}

/** The state's moment on the chart: the shares, and each cluster's observed share while Prometheus answers. */
export function timelinePoint(state: DashboardState, at: number): TimelinePoint {
  const shares = clusterShares(state.clusters);
  const clusters: TimelinePoint['clusters'] = {};
  for (const c of state.clusters) {
    const observed = state.prometheus.reachable ? state.prometheus.clusters[c.context]?.observedPercent : undefined;
    clusters[c.context] = { desired: null, verified: null, ...shares[c.context], observed: observed ?? null };
  }
  return { at, clusters };
}

/** Keeps the newest `max` points (the chart's window), in time order. */
export function appendPoint(points: TimelinePoint[], point: TimelinePoint, max = 3600): TimelinePoint[] {
  const next = points.length > 0 && (points.at(-1)?.at ?? 0) > point.at ? points : [...points, point];
  return next.length > max ? next.slice(next.length - max) : next;
}

/** The chart of one cluster: its three series over the points, and the marks from its cutover's history. */
export function chartSeries(points: readonly TimelinePoint[], context: string, history: readonly HistoryEntry[] = []): ChartSeries {
  const series: ChartSeries = { x: [], desired: [], verified: [], observed: [], marks: marksFrom(history) };
  for (const p of points) {
    const c = p.clusters[context];
    series.x.push(p.at / 1000);
    series.desired.push(c?.desired ?? null);
    series.verified.push(c?.verified ?? null);
    series.observed.push(c?.observed ?? null);
  }
  return series;
}

export interface HistoryEntry {
  at: string;
  stepNumber: number;
  event: string;
  message: string;
}

/** Step boundaries and analysis verdicts from a cutover's history, oldest first. */
export function marksFrom(history: readonly HistoryEntry[]): ChartMark[] {
  return history.flatMap((e): ChartMark[] => {
    const at = Date.parse(e.at);
    if (Number.isNaN(at)) return [];
    if (STEP_EVENTS.has(e.event)) return [{ at, kind: 'step', label: `${e.event} (step ${e.stepNumber}): ${e.message}` }];
    const outcome = VERDICTS[e.event];
    return outcome ? [{ at, kind: 'verdict', outcome, label: `${e.event}: ${e.message}` }] : [];
  });
}

/**
 * The history entries of `next` not yet in `known` (the status keeps only the last 20), merged in
 * time order: the chart keeps every mark since the dashboard started.
 */
export function mergeHistory(known: readonly HistoryEntry[], next: readonly HistoryEntry[]): HistoryEntry[] {
  const key = (e: HistoryEntry) => `${e.at}|${e.event}|${e.stepNumber}|${e.message}`;
  const seen = new Set(known.map(key));
  const added = next.filter((e) => !seen.has(key(e)));
  if (added.length === 0) return [...known];
  return [...known, ...added].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** Prometheus's instant-query answer (`data.result` of a vector). */
export type PromVector = { metric: Record<string, string>; value: [number, string] }[];

export interface PromAnswers {
  /** Requests per second by `cluster`. */
  rate: PromVector;
  /** 5xx per second by `cluster`. */
  errors: PromVector;
  /** p99 latency in seconds by `cluster`. */
  p99: PromVector;
}

/**
 * The figures per context from Prometheus's answers. A series belongs to a context when its
 * `cluster` label is the context's name or the cluster's set identifier (spec.traffic.cluster).
 */
export function clusterFigures(answers: PromAnswers, clusters: readonly ClusterState[]): Record<string, ClusterFigures> {
  const labelOf = (c: ClusterState) => new Set([c.context, c.view?.record?.setIdentifier].filter((v) => v !== undefined));
  const valueFor = (vector: PromVector, c: ClusterState) => {
    const labels = labelOf(c);
    const found = vector.find((s) => labels.has(s.metric.cluster ?? ''));
    const value = found ? Number(found.value[1]) : undefined;
    return value === undefined || !Number.isFinite(value) ? undefined : value;
  };
  const rates = clusters.map((c) => valueFor(answers.rate, c) ?? 0);
  const total = rates.reduce((sum, r) => sum + r, 0);
  const out: Record<string, ClusterFigures> = {};
  clusters.forEach((c, i) => {
    const rate = valueFor(answers.rate, c);
    const errors = valueFor(answers.errors, c);
    const p99 = valueFor(answers.p99, c);
    out[c.context] = {
      requestRate: rate === undefined ? undefined : round(rate),
      errorRate: rate === undefined || rate === 0 ? undefined : round((errors ?? 0) / rate, 4),
      p99Ms: p99 === undefined ? undefined : round(p99 * 1000),
      observedPercent: total > 0 ? round(((rates[i] ?? 0) * 100) / total) : undefined,
    };
  });
  return out;
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
