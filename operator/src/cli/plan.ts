import { readFileSync } from 'node:fs';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { API_VERSION, KIND, type Reservation, ReservationSpec, type ServiceName } from '../api/v1alpha1/reservation.ts';
import { Traffic } from '../api/v1alpha1/traffic.ts';
import { instantQuery, vectorQuery } from '../traffic/analysis/prometheus-source.ts';
import { POD_SELECTOR, renderQuery } from '../traffic/analysis/promql.ts';
import type { Cutover } from '../traffic/plan.ts';
import { type PlanPreview, type PreviewFacts, previewPlan, seesBothClusters } from '../traffic/plan-preview.ts';
import { PRESCALED, prescaleRates } from '../traffic/prescale.ts';
import { shareOf } from '../traffic/weights.ts';

/**
 * `kubectl reservation plan` and the console's preview: the live facts a plan preview needs
 * (Prometheus's request rates, both clusters' replicas, the record's TTL and weights), read
 * with a timeout each, handed to the pure previewPlan (traffic/plan-preview.ts).
 */

/**
 * Without a prescale of its own, the load of each of the Reservation's services (both clusters:
 * no cluster label), picked by the labels the analyses use (promql.ts); `{{service}}` is left for
 * prescaleRates.
 */
const rateQuery = (cr: Reservation) =>
  `sum(rate(http_request_duration_seconds_count{namespace="${cr.metadata.namespace}",pod=~"${cr.metadata.name}-{{service}}-[a-z0-9]+-[a-z0-9]+"}[2m]))`;
const errorRateQuery = (cr: Reservation) => {
  const selector = renderQuery(POD_SELECTOR, { namespace: cr.metadata.namespace, name: cr.metadata.name, interval: '2m' });
  return `(sum(rate(http_request_duration_seconds_count{${selector},status_code=~"5.."}[2m])) or vector(0)) / sum(rate(http_request_duration_seconds_count{${selector}}[2m]))`;
};
/** Which clusters' series of the Reservation's pods Prometheus has, by the label the peer analysis reads. */
const clustersQuery = (cr: Reservation, label: string) =>
  `count by (${label}) (http_request_duration_seconds_count{${renderQuery(POD_SELECTOR, { namespace: cr.metadata.namespace, name: cr.metadata.name, interval: '2m' })}})`;
export const PREVIEW_QUERY_TIMEOUT_MS = 5000;

export interface PreviewOptions {
  /** Route53's usual time to INSYNC, seconds (AWS: within 60 s; moto: 0). */
  route53SyncSeconds: number;
  podStartSeconds: number;
  /** Another Prometheus than the plan's (prescale's, else an analysis's). */
  prometheusUrl?: string;
  /** Names this cluster and the peer go by in Prometheus's `cluster` label, besides their set identifiers (kube contexts). */
  selfNames?: readonly string[];
  peerNames?: readonly string[];
  timeoutMs?: number;
}

/** A plan file that cannot be used: says where, naming the field. */
export class PlanFileError extends Error {}

/**
 * The Reservation with the plan of `text` (YAML or JSON): a whole Reservation manifest, a merge
 * patch of spec.traffic.cutover, or only spec.traffic.cutover (both on `live`'s spec.traffic). Checked against the CRD's schema, with
 * its defaults filled in; throws a PlanFileError naming the first bad field.
 */
export function planFromText(text: string, file: string, live: Reservation | undefined): Reservation {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new PlanFileError(`${file}: not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PlanFileError(`${file}: must hold a Reservation or a spec.traffic.cutover (a mapping with from and steps)`);
  }
  const record = doc as Record<string, unknown>;
  if (record.kind === 'Reservation') {
    // The manifest as it would be applied (the CRD's defaults filled in), with the live status when it exists.
    const spec = Value.Default(ReservationSpec, structuredClone(record.spec ?? {})) as ReservationSpec;
    const [first] = Value.Errors(ReservationSpec, spec);
    if (first) throw new PlanFileError(`${file}: ${fieldOf('spec', first.instancePath)} ${first.message}`);
    if (!spec.traffic?.cutover) throw new PlanFileError(`${file}: spec.traffic.cutover is missing: nothing to preview`);
    const metadata = (record.metadata ?? {}) as Reservation['metadata'];
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: live?.metadata ?? metadata,
      spec,
      ...(live?.status ? { status: live.status } : {}),
    };
  }
  // A merge patch of spec.traffic.cutover (what `kubectl patch --patch-file` takes) is its cutover.
  const patched = (record.spec as { traffic?: { cutover?: unknown } } | undefined)?.traffic?.cutover;
  const cutover = patched && typeof patched === 'object' ? patched : record;
  if (!live?.spec.traffic) {
    throw new PlanFileError(`${file}: a bare spec.traffic.cutover needs a live Reservation with spec.traffic to go with (give NAME)`);
  }
  const traffic = Value.Default(Traffic, {
    ...structuredClone(live.spec.traffic),
    cutover: structuredClone(cutover),
  }) as ReservationSpec['traffic'];
  const [first] = Value.Errors(Traffic, traffic);
  if (first) throw new PlanFileError(`${file}: ${fieldOf('spec.traffic', first.instancePath)} ${first.message}`);
  return { ...live, spec: { ...live.spec, traffic } };
}

/** `/cutover/steps/0/setShare` under `spec.traffic` → `spec.traffic.cutover.steps[0].setShare`. */
function fieldOf(prefix: string, instancePath: string): string {
  return `${prefix}${instancePath.replace(/\/(\d+)/g, '[$1]').replaceAll('/', '.')}`;
}

/** A plan file's text; `-` is stdin. */
export function readPlanText(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlanFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The preview of `cr`'s spec.traffic.cutover, from what Prometheus and both Reservations say now. */
export async function previewReservation(cr: Reservation, peer: Reservation | undefined, options: PreviewOptions): Promise<PlanPreview> {
  const traffic = cr.spec.traffic;
  const cutover = traffic?.cutover;
  if (!traffic || !cutover) throw new PlanFileError(`${cr.metadata.name} has no spec.traffic.cutover: no plan to preview`);
  const facts = await gatherFacts(cr, cutover, peer, options);
  return previewPlan(cutover, facts);
}

async function gatherFacts(
  cr: Reservation,
  cutover: Cutover,
  peer: Reservation | undefined,
  options: PreviewOptions,
): Promise<PreviewFacts> {
  const traffic = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
  const timeoutMs = options.timeoutMs ?? PREVIEW_QUERY_TIMEOUT_MS;
  const url = options.prometheusUrl ?? cutover.prescale?.prometheus.url ?? cutover.analysis?.find((a) => a.prometheus)?.prometheus?.url;
  const facts: PreviewFacts = {
    self: traffic.cluster,
    ttlSeconds: traffic.dns.ttl,
    startShare: startShare(cr, peer),
    route53SyncSeconds: options.route53SyncSeconds,
    podStartSeconds: options.podStartSeconds,
    services: cr.spec.services,
    ready: readyOf(cr),
    ...(peer ? { peer: { services: peer.spec.services, ready: readyOf(peer) } } : {}),
  };
  if (!url) {
    facts.prometheusProblem = 'no Prometheus URL in the plan (prescale or an analysis) and none given with --prometheus';
    return facts;
  }
  const query = (u: string, promql: string) =>
    instantQuery(u, promql, { timeoutMs }).then((v) => {
      if (v === undefined || !Number.isFinite(v)) throw new Error(`no data from ${promql}`);
      return v;
    });
  const peerTemplate = cutover.analysis?.find((a) => a.peer)?.peer;
  const label = peerTemplate?.label ?? 'cluster';
  const settings = cutover.prescale ?? {
    prometheus: { url, query: rateQuery(cr) },
    requestsPerPod: { reservationApi: 1, queryApi: 1 },
    headroomPercent: 0,
  };
  const [rates, errorRate, clusters] = await Promise.allSettled([
    prescaleRates(settings, query),
    instantQuery(url, errorRateQuery(cr), { timeoutMs }),
    vectorQuery(url, clustersQuery(cr, label), { timeoutMs }),
  ]);
  if (rates.status === 'fulfilled') facts.rates = rates.value;
  else facts.prometheusProblem = (rates.reason as Error).message;
  if (errorRate.status === 'fulfilled' && errorRate.value !== undefined && Number.isFinite(errorRate.value))
    facts.errorRate = errorRate.value;
  if (clusters.status === 'fulfilled') {
    const values = clusters.value.map((s) => s.labels[label] ?? '').filter(Boolean);
    const selfNames = [traffic.cluster, peerTemplate?.thisCluster, ...(options.selfNames ?? [])].filter((n): n is string => !!n);
    const peerNames = [cutover.from, peerTemplate?.peerCluster, ...(options.peerNames ?? [])].filter((n): n is string => !!n);
    facts.prometheusSeesBoth = seesBothClusters(values, selfNames, peerNames);
  } else facts.prometheusProblem ??= (clusters.reason as Error).message;
  return facts;
}

/**
 * This cluster's share now: the weights Route53 serves (a cutover's verified weights, else each
 * Reservation's verified weight, else its spec's weight); without the peer, its weight is taken
 * as 100 − this cluster's (the weights a cutover writes).
 */
export function startShare(cr: Reservation, peer: Reservation | undefined): number {
  const verified = cr.status?.traffic?.cutover?.verifiedWeights;
  if (verified) return Math.round(shareOf('self', verified));
  const own = cr.status?.traffic?.verifiedWeight ?? cr.spec.traffic?.weight ?? 0;
  const other = peer ? (peer.status?.traffic?.verifiedWeight ?? peer.spec.traffic?.weight ?? 0) : Math.max(0, 100 - own);
  return Math.round(shareOf('self', { self: own, peer: other }));
}

function readyOf(cr: Reservation): Partial<Record<ServiceName, number>> | undefined {
  const services = cr.status?.services;
  if (!services) return undefined;
  const out: Partial<Record<ServiceName, number>> = {};
  for (const name of PRESCALED) {
    const ready = services[name]?.ready;
    if (ready !== undefined) out[name] = ready;
  }
  return out;
}
