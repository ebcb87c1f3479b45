import { type Reservation, SERVICE_NAMES, type ServiceName } from '../api/v1alpha1/reservation.ts';
import type { KubeObject } from '../kube/resources.ts';
import { drainSwitchValue } from '../traffic/rebalance.ts';
import {
  ADMIN_PORT,
  API_PORT,
  type Backend,
  commonLabels,
  contentHash,
  objectName,
  ownedMetadata,
  SERVICES,
  selectorLabels,
} from './metadata.ts';

/**
 * Shutdown timings that fit together: the kubelet runs preStop (pods leave Service
 * endpoints and load balancer targets meanwhile), then SIGTERM: the service turns unready,
 * waits SHUTDOWN_DELAY_MS, finishes in-flight requests within SHUTDOWN_TIMEOUT_MS, and exits
 * before terminationGracePeriodSeconds runs out. ALB target deregistration is the slowest
 * of these, hence the preStop sleep.
 */
export const SHUTDOWN = { preStopSeconds: 10, delayMs: 1000, timeoutMs: 20_000, slackSeconds: 4 } as const;

export function terminationGraceSeconds(t: typeof SHUTDOWN = SHUTDOWN): number {
  return t.preStopSeconds + Math.ceil((t.delayMs + t.timeoutMs) / 1000) + t.slackSeconds;
}

/** Settings every service reads, from one ConfigMap (no credentials here). */
/** Where the services find the drain switch (service-kit's DRAIN_FILE default is in it). */
export const DRAIN_DIR = '/etc/reservation/drain';
const drainConfigMapName = (cr: Reservation) => `${objectName(cr)}-drain`;

/**
 * The drain switch: `connection-close` is "true" while a peer's cutover drains this cluster and
 * asks for it, and the services then answer every request with `Connection: close`, so
 * keep-alive clients reconnect and resolve the name again (service-kit's connection drain); at a
 * step that lowered this cluster's share, the rebalance: that share of the connections closes
 * over one TTL (traffic/rebalance.ts).
 */
export function drainConfigMap(cr: Reservation): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMetadata(cr, drainConfigMapName(cr)),
    data: { 'connection-close': drainSwitchValue(cr.status?.traffic?.handover, cr.spec.traffic?.dns.ttl ?? 60) },
  };
}

export function configMap(cr: Reservation): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMetadata(cr, `${objectName(cr)}-config`),
    data: {
      HOST: '0.0.0.0',
      PORT: String(API_PORT),
      ADMIN_PORT: String(ADMIN_PORT),
      LOG_LEVEL: 'info',
      SHUTDOWN_DELAY_MS: String(SHUTDOWN.delayMs),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN.timeoutMs),
      SQS_QUEUE_URL: cr.spec.backends.sqs.queueUrl,
      SQS_DLQ_URL: cr.spec.backends.sqs.deadLetterQueueUrl,
      JWT_ISSUER: cr.spec.backends.jwt.issuer,
      JWT_AUDIENCE: cr.spec.backends.jwt.audience,
      ...(cr.spec.backends.jwt.jwksUrl ? { JWT_JWKS_URL: cr.spec.backends.jwt.jwksUrl } : {}),
    },
  };
}

/**
 * Each service's own ServiceAccount, so each gets only its own cloud role (IRSA annotation or an
 * EKS Pod Identity association by name): the relay sends, the notifier receives, query-api calls
 * nothing. The annotations every service shares, then the service's own.
 */
export function serviceAccount(cr: Reservation, service: ServiceName): KubeObject {
  const metadata = ownedMetadata(cr, objectName(cr, service), service);
  // Maps in the schema (additionalProperties: string), which TypeBox types as bare objects.
  const annotations = {
    ...(cr.spec.serviceAccount?.annotations as Record<string, string> | undefined),
    ...(cr.spec.services[service].serviceAccount?.annotations as Record<string, string> | undefined),
  };
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: Object.keys(annotations).length > 0 ? { ...metadata, annotations } : metadata,
  };
}

type SecretRef = { name: string; key: string };

/** A service's MySQL account: its own (spec.services.<service>.mysql) or the shared spec.backends.mysql. */
function mysqlRefs(cr: Reservation, service: ServiceName): { primarySecretRef: SecretRef; replicaSecretRef?: SecretRef } {
  const own: { primarySecretRef?: SecretRef; replicaSecretRef?: SecretRef } | undefined = cr.spec.services[service].mysql;
  // The schema requires both refs of a service that reads the replica, so an own primary means an own account.
  return own?.primarySecretRef
    ? { primarySecretRef: own.primarySecretRef, replicaSecretRef: own.replicaSecretRef }
    : cr.spec.backends.mysql;
}

function secretEnv(cr: Reservation, service: ServiceName, backend: Backend) {
  const b = cr.spec.backends;
  const mysql = mysqlRefs(cr, service);
  const refs: Record<Exclude<Backend, 'sqs'>, [string, SecretRef | undefined]> = {
    mysqlPrimary: ['MYSQL_PRIMARY_URL', mysql.primarySecretRef],
    mysqlReplica: ['MYSQL_REPLICA_URL', mysql.replicaSecretRef],
    redis: ['REDIS_URL', b.redis.secretRef],
    jwt: [b.jwt.algorithm === 'HS256' ? 'JWT_SECRET' : 'JWT_PUBLIC_KEY', b.jwt.secretRef],
    signing: ['BOOKING_SIGNING_KEYS', b.signing.secretRef],
    webhookSecrets: ['WEBHOOK_SECRET_KEYS', b.webhookSecrets.secretRef],
  };
  if (backend === 'sqs') return []; // URLs come from the ConfigMap, access from IRSA
  const [name, ref] = refs[backend];
  if (!ref) return []; // a JWKS URL (the ConfigMap) instead of a static key
  return [{ name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }];
}

export function imageOf(cr: Reservation, service: ServiceName): string {
  return cr.spec.services[service].image ?? `${cr.spec.image.repository}/${SERVICES[service].component}:${cr.spec.version}`;
}

export function deployment(cr: Reservation, service: ServiceName, config: KubeObject): KubeObject {
  const spec = cr.spec.services[service];
  const { component, needs } = SERVICES[service];
  const httpGet = (path: string) => ({ httpGet: { path, port: 'admin' } });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: ownedMetadata(cr, objectName(cr, service), service),
    spec: {
      // No replicas: the HorizontalPodAutoscaler owns that field.
      selector: { matchLabels: selectorLabels(cr, service) },
      revisionHistoryLimit: 5,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: {
        metadata: {
          labels: { ...commonLabels(cr, service), 'app.kubernetes.io/version': cr.spec.version },
          annotations: { 'platform.reservations.dev/config-hash': contentHash(config.data) },
        },
        spec: {
          serviceAccountName: objectName(cr, service),
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: terminationGraceSeconds(),
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'topology.kubernetes.io/zone',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selectorLabels(cr, service) },
            },
          ],
          containers: [
            {
              name: component,
              image: imageOf(cr, service),
              imagePullPolicy: cr.spec.image.pullPolicy,
              ports: [
                { name: 'http', containerPort: API_PORT, protocol: 'TCP' },
                { name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
              ],
              envFrom: [{ configMapRef: { name: config.metadata.name } }],
              env: [...needs.flatMap((b) => secretEnv(cr, service, b)), ...spec.env],
              resources: spec.resources,
              startupProbe: { ...httpGet('/healthz'), periodSeconds: 2, failureThreshold: 30 },
              readinessProbe: { ...httpGet('/readyz'), periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { ...httpGet('/healthz'), periodSeconds: 10, failureThreshold: 3 },
              lifecycle: { preStop: { sleep: { seconds: SHUTDOWN.preStopSeconds } } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'drain', mountPath: DRAIN_DIR, readOnly: true },
              ],
            },
          ],
          // The drain switch is a volume, not env: the kubelet updates it in running pods, no restart.
          volumes: [
            { name: 'tmp', emptyDir: {} },
            { name: 'drain', configMap: { name: drainConfigMapName(cr), optional: true } },
          ],
        },
      },
    },
  };
}

export function service(cr: Reservation, name: ServiceName): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cr, objectName(cr, name), name),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cr, name),
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'admin', port: ADMIN_PORT, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  };
}

export function horizontalPodAutoscaler(cr: Reservation, name: ServiceName): KubeObject {
  const spec = cr.spec.services[name];
  const cpu = {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilization } },
  };
  // The notifier scales on its backlog: visible messages per pod, as an External metric
  // (served by an external metrics adapter such as KEDA or prometheus-adapter).
  const queueDepth =
    name === 'notifier'
      ? [
          {
            type: 'External',
            external: {
              metric: { name: 'sqs_messages_visible', selector: { matchLabels: { queue_url: queueLabel(cr.spec.backends.sqs.queueUrl) } } },
              target: { type: 'AverageValue', averageValue: String(cr.spec.services.notifier.targetQueueDepthPerReplica) },
            },
          },
        ]
      : [];
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: ownedMetadata(cr, objectName(cr, name), name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: objectName(cr, name) },
      minReplicas: minReplicas(cr, name),
      maxReplicas: spec.replicas.max,
      metrics: [cpu, ...queueDepth],
    },
  };
}

/**
 * The spec's minimum, raised by the traffic controller's floor while it pre-scales for a higher
 * share or keeps this cluster warm for a peer's cutover (status.traffic.minReplicas), never above
 * the maximum.
 */
export function minReplicas(cr: Reservation, name: ServiceName): number {
  const { min, max } = cr.spec.services[name].replicas;
  return Math.min(max, Math.max(min, cr.status?.traffic?.minReplicas?.[name] ?? 0));
}

/**
 * The queue as a label value: its name (the URL's last path segment), since label values allow
 * no '/' or ':', at most 63 characters that begin and end with a letter or digit (an 80-character
 * FIFO queue name cut at 63 may otherwise end in '-' or '.', and the API server refuses the HPA).
 */
export function queueLabel(queueUrl: string): string {
  return (queueUrl.split('/').pop() ?? '')
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export function podDisruptionBudget(cr: Reservation, name: ServiceName): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: ownedMetadata(cr, objectName(cr, name), name),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(cr, name) },
      // A pod that is not ready protects nothing; don't let it block node drains.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}

export function workloads(cr: Reservation): KubeObject[] {
  const config = configMap(cr);
  return [
    config,
    drainConfigMap(cr),
    ...SERVICE_NAMES.flatMap((s) => [
      serviceAccount(cr, s),
      deployment(cr, s, config),
      service(cr, s),
      horizontalPodAutoscaler(cr, s),
      podDisruptionBudget(cr, s),
    ]),
  ];
}
