import type { Reservation } from '../api/v1alpha1/reservation.ts';
import { measureRequests } from './analysis/peer-source.ts';
import type { TrafficContext } from './context.ts';
import { parseDuration } from './plan.ts';
import type { SettleSettings, ShareMeasurement } from './settle.ts';

/**
 * The settle rule's I/O (the decision is settle.ts): its settings from the spec, and one
 * measurement of both clusters' requests from the Prometheus it names, by the same label and
 * query as a peer analysis (analysis/peer-source.ts), so the console, the analysis and the
 * cutover count the same requests.
 */

type Cutover = NonNullable<NonNullable<Reservation['spec']['traffic']>['cutover']>;

/** spec.traffic.cutover.settle with its defaults (the CRD fills them too); without it or cutover.prometheus: not observed. */
export function settleSettings(cutover: Cutover): SettleSettings {
  const s = cutover.settle;
  return {
    observed: !!s && !!cutover.prometheus,
    tolerancePoints: s?.tolerancePoints ?? 3,
    windowMs: parseDuration(s?.window ?? '30s') ?? 30_000,
    maxWaitMs: parseDuration(s?.maxWait ?? '5m') ?? 300_000,
  };
}

/** Both clusters' requests over `windowMs`; never throws: a failure is a measurement saying why. */
export async function measureShare(ctx: TrafficContext, cutover: Cutover, windowMs: number): Promise<ShareMeasurement> {
  const at = ctx.now();
  const { prometheus } = cutover;
  if (!prometheus) return { at, windowMs, error: 'no Prometheus configured (spec.traffic.cutover.prometheus)' };
  const clusters = {
    label: prometheus.label ?? 'cluster',
    self: prometheus.thisCluster ?? ctx.spec.cluster,
    peer: prometheus.peerCluster ?? cutover.from,
  };
  try {
    const target = { namespace: ctx.cr.metadata.namespace, name: ctx.cr.metadata.name };
    const counts = await measureRequests((promql) => ctx.prometheusSeries(prometheus.url, promql), target, clusters, windowMs);
    if (counts.self + counts.peer === 0 && counts.missing.length > 0) {
      // A wrong label value looks exactly like no traffic: say which series are missing.
      const none = counts.missing.map((c) => `${clusters.label}="${c}"`).join(' or ');
      return { at, windowMs, error: `${prometheus.url} has no request series with ${none}` };
    }
    return { at, windowMs, requests: { self: counts.self, peer: counts.peer } };
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    return { at, windowMs, error: (err as Error).message };
  }
}
