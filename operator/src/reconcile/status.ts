import {
  type Condition,
  type Reservation,
  type ReservationStatus,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceStatus,
  type TrafficStatus,
} from '../api/v1alpha1/reservation.ts';
import { SERVICES } from '../desired/metadata.ts';
import { minReplicas } from '../desired/workloads.ts';
import { CONDITION, REASON, setCondition } from './conditions.ts';

/** What the operator reads off a Deployment (status as the API server reports it). */
export interface ObservedDeployment {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface Observed {
  deployments: Partial<Record<ServiceName, ObservedDeployment>>;
  edgeHostname?: string;
  /** Set when applying the desired objects failed this time. */
  applyError?: string;
  /** The connection budget's condition, when the operator has a limit (connection-budget.ts). */
  connectionBudget?: { status: 'True' | 'False'; reason: string; message: string };
  /** This cluster's weighted record, for a Reservation with spec.traffic (traffic/reconciler.ts). */
  traffic?: { status: TrafficStatus; condition: { status: 'True' | 'False'; reason: string; message: string } };
}

/** The status a Reservation should show, from its spec and what was observed (pure). */
export function computeStatus(cr: Reservation, observed: Observed, now: Date): ReservationStatus {
  const services: Partial<Record<ServiceName, ServiceStatus>> = {};
  const unavailable: string[] = [];
  const rolling: string[] = [];
  const stuck: string[] = [];
  for (const name of SERVICE_NAMES) {
    const d = observed.deployments[name];
    const s = d?.status;
    // The autoscaler raises a new Deployment from 1 to the spec's minimum; until it has, the
    // service is not yet what was asked for.
    const desired = Math.max(d?.spec?.replicas ?? 0, minReplicas(cr, name));
    services[name] = {
      desired,
      ready: s?.readyReplicas ?? 0,
      available: s?.availableReplicas ?? 0,
      updated: s?.updatedReplicas ?? 0,
    };
    if (!d || (s?.availableReplicas ?? 0) < desired) unavailable.push(SERVICES[name].component);
    const current = (s?.observedGeneration ?? 0) >= (d?.metadata.generation ?? 1);
    if (!d || !current || (s?.updatedReplicas ?? 0) < desired || (s?.replicas ?? 0) > desired) rolling.push(SERVICES[name].component);
    const progress = s?.conditions?.find((c) => c.type === 'Progressing');
    if (progress?.status === 'False' && progress.reason === 'ProgressDeadlineExceeded') stuck.push(SERVICES[name].component);
  }

  const generation = cr.metadata.generation;
  let conditions: Condition[] = cr.status?.conditions ?? [];
  const set = (type: string, status: 'True' | 'False', reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message, observedGeneration: generation }, now);
  };

  if (unavailable.length === 0) set(CONDITION.Ready, 'True', REASON.AllServicesAvailable, 'every service has all its replicas available');
  else set(CONDITION.Ready, 'False', REASON.ServicesUnavailable, `waiting for available replicas: ${unavailable.join(', ')}`);

  if (rolling.length > 0) set(CONDITION.Progressing, 'True', REASON.RollingOut, `rolling out: ${rolling.join(', ')}`);
  else set(CONDITION.Progressing, 'False', REASON.RolloutComplete, 'every service runs the current spec');

  if (observed.applyError) set(CONDITION.Degraded, 'True', REASON.ApplyFailed, observed.applyError);
  else if (stuck.length > 0)
    set(CONDITION.Degraded, 'True', REASON.ProgressDeadlineExceeded, `rollout stuck past its deadline: ${stuck.join(', ')}`);
  else set(CONDITION.Degraded, 'False', REASON.AsExpected, 'no problems seen');

  if (observed.connectionBudget) {
    const { status, reason, message } = observed.connectionBudget;
    set(CONDITION.ConnectionBudget, status, reason, message);
  }

  if (observed.traffic) {
    const { status, reason, message } = observed.traffic.condition;
    set(CONDITION.TrafficReady, status, reason, message);
  } else conditions = conditions.filter((c) => c.type !== CONDITION.TrafficReady);

  const totals = Object.values(services).reduce((t, s) => ({ available: t.available + s.available, desired: t.desired + s.desired }), {
    available: 0,
    desired: 0,
  });
  return {
    observedGeneration: generation,
    phase: phaseOf(cr, observed),
    replicas: `${totals.available}/${totals.desired}`,
    conditions,
    services,
    ...(observed.edgeHostname ? { edge: { hostname: observed.edgeHostname } } : {}),
    ...(observed.traffic ? { traffic: observed.traffic.status } : {}),
  };
}

/** Reasons that keep a planned cutover from starting at all. */
const CUTOVER_BLOCKED: string[] = [REASON.CutoverPlanInvalid, REASON.PeerRecordMissing, REASON.PeerRecordOwnedByOther];

/** The cutover's phase while one exists (Progressing, Paused, ..., Succeeded); Degraded when a planned one cannot start; else Idle. */
function phaseOf(cr: Reservation, observed: Observed): string {
  const traffic = observed.traffic;
  if (traffic?.status.cutover) return traffic.status.cutover.phase;
  if (cr.spec.traffic?.cutover && traffic && CUTOVER_BLOCKED.includes(traffic.condition.reason)) return 'Degraded';
  return 'Idle';
}
