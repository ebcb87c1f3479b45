import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CUTOVER_PHASES, type CutoverStatus } from './api/v1alpha1/reservation.ts';
import type { QueueObserver } from './controller/workqueue.ts';
import type { RequestObserver } from './kube/client.ts';

/** controller-runtime's metric names, so existing dashboards and alerts fit. */
export function createControllerMetrics(registry: Registry, controller: string) {
  const registers = [registry];
  const reconcileTotal = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Reconciles per controller and result',
    labelNames: ['controller', 'result'] as const,
    registers,
  });
  const reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Reconciles that returned an error',
    labelNames: ['controller'] as const,
    registers,
  });
  const reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Time per reconcile',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const depth = new Gauge({ name: 'workqueue_depth', help: 'Keys waiting in the work queue', labelNames: ['name'] as const, registers });
  const adds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Keys added to the work queue',
    labelNames: ['name'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Rate-limited re-adds (failures)',
    labelNames: ['name'] as const,
    registers,
  });
  const queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long a key waits in the queue before a worker takes it',
    labelNames: ['name'] as const,
    buckets: [0.001, 0.01, 0.1, 1, 10, 100],
    registers,
  });
  const workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long a worker holds a key',
    labelNames: ['name'] as const,
    buckets: [0.001, 0.01, 0.1, 1, 10, 100],
    registers,
  });
  const requests = new Counter({
    name: 'rest_client_requests_total',
    help: 'Requests to the Kubernetes API by method and HTTP status (0: no answer); watches not included',
    labelNames: ['method', 'code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'rest_client_request_duration_seconds',
    help: 'Latency of requests to the Kubernetes API by method, answered or not; watches not included',
    labelNames: ['verb'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    registers,
  });
  const leader = new Gauge({
    name: 'leader_election_master_status',
    help: '1 while this instance leads',
    labelNames: ['name'] as const,
    registers,
  });
  const queueObserver: QueueObserver = {
    depth: (n) => depth.set({ name: controller }, n),
    added: () => adds.inc({ name: controller }),
    retried: () => retries.inc({ name: controller }),
    waited: (ms) => queueDuration.observe({ name: controller }, ms / 1000),
    worked: (ms) => workDuration.observe({ name: controller }, ms / 1000),
  };
  const requestObserver: RequestObserver = (method, status, seconds) => {
    requests.inc({ method, code: String(status) });
    requestDuration.observe({ verb: method }, seconds);
  };
  const route53Requests = new Counter({
    name: 'route53_requests_total',
    help: 'Route53 API calls per operation and result (ok, or the error code: Throttling, PriorRequestNotComplete, ...)',
    labelNames: ['operation', 'result'] as const,
    registers,
  });
  const route53Duration = new Histogram({
    name: 'route53_request_duration_seconds',
    help: 'Time per Route53 API call',
    labelNames: ['operation'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const route53Observer = ({ operation, result, seconds }: { operation: string; result: string; seconds: number }) => {
    route53Requests.inc({ operation, result });
    route53Duration.observe({ operation }, seconds);
  };
  const cutoverLabels = ['namespace', 'reservation'] as const;
  const cutoverShare = new Gauge({
    name: 'reservation_cutover_share_percent',
    help: "This cluster's share of the traffic a running cutover asks for (desired) and Route53 serves (verified)",
    labelNames: [...cutoverLabels, 'kind'] as const,
    registers,
  });
  const cutoverStep = new Gauge({
    name: 'reservation_cutover_step',
    help: 'The step a cutover is on (1-based; steps + 1 once the plan is done)',
    labelNames: cutoverLabels,
    registers,
  });
  const cutoverPhase = new Gauge({
    name: 'reservation_cutover_phase',
    help: "1 for the cutover's current phase, 0 for the others",
    labelNames: [...cutoverLabels, 'phase'] as const,
    registers,
  });
  const cutoverAborted = new Counter({
    name: 'reservation_cutover_aborted_total',
    help: 'Cutovers aborted (an analysis failed, or on request)',
    labelNames: cutoverLabels,
    registers,
  });
  const cutoverObserver: CutoverObserver = {
    observe(reservation, cutover) {
      const labels = { namespace: reservation.namespace, reservation: reservation.name };
      cutoverShare.set({ ...labels, kind: 'desired' }, cutover.share);
      if (cutover.verifiedShare !== undefined) cutoverShare.set({ ...labels, kind: 'verified' }, cutover.verifiedShare);
      cutoverStep.set(labels, cutover.step + 1);
      for (const phase of CUTOVER_PHASES) cutoverPhase.set({ ...labels, phase }, phase === cutover.phase ? 1 : 0);
    },
    aborted: (reservation) => cutoverAborted.inc({ namespace: reservation.namespace, reservation: reservation.name }),
  };
  return { reconcileTotal, reconcileErrors, reconcileTime, leader, queueObserver, requestObserver, route53Observer, cutoverObserver };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;

/** What the traffic controller reports about a cutover, as metrics (dashboards, the CutoverAborted alert). */
export interface CutoverObserver {
  observe(reservation: { namespace: string; name: string }, cutover: CutoverStatus): void;
  aborted(reservation: { namespace: string; name: string }): void;
}
