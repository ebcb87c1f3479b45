import type { Reservation, ServiceName } from '../api/v1alpha1/reservation.ts';
import type { KubeObject } from '../kube/resources.ts';
import { ADMIN_PORT, objectName, ownedMetadata } from './metadata.ts';

/**
 * One public hostname per cluster, routed by method and path: everything under /v1/providers
 * (the notification stream and the webhook endpoints) to notifier, other reads (GET, HEAD) to
 * query-api, everything else (writes) to reservation-api.
 */
export function edge(cr: Reservation): KubeObject[] {
  const spec = cr.spec.edge;
  if (!spec) return [];
  return [spec.kind === 'Ingress' ? albIngress(cr) : httpRoute(cr)];
}

const READ_METHODS = ['GET', 'HEAD'] as const;
const NOTIFIER_PREFIX = '/v1/providers';

function httpRoute(cr: Reservation): KubeObject {
  const spec = cr.spec.edge;
  const backend = (service: ServiceName) => [{ name: objectName(cr, service), port: 80 }];
  const prefix = (value: string) => ({ type: 'PathPrefix', value });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: ownedMetadata(cr, objectName(cr)),
    spec: {
      parentRefs: [{ name: spec?.parentRef?.name, namespace: spec?.parentRef?.namespace, sectionName: spec?.parentRef?.sectionName }].map(
        dropUndefined,
      ),
      hostnames: [spec?.host],
      // Gateway API ranks the longest path first, then rules with a method match.
      rules: [
        { matches: [{ path: prefix(NOTIFIER_PREFIX) }], backendRefs: backend('notifier') },
        { matches: READ_METHODS.map((method) => ({ path: prefix('/'), method })), backendRefs: backend('queryApi') },
        { matches: [{ path: prefix('/') }], backendRefs: backend('reservationApi') },
      ],
    },
  };
}

/**
 * An Ingress for the AWS Load Balancer Controller. Ingress cannot match methods, so reads
 * and the stream go through ALB "actions" with method "conditions" (annotations named after a
 * backend whose port is `use-annotation`); listener rules follow the order of the paths.
 */
function albIngress(cr: Reservation): KubeObject {
  const spec = cr.spec.edge;
  const forwardTo = (service: ServiceName) =>
    JSON.stringify({ type: 'forward', forwardConfig: { targetGroups: [{ serviceName: objectName(cr, service), servicePort: '80' }] } });
  const methods = (values: readonly string[]) =>
    JSON.stringify([{ field: 'http-request-method', httpRequestMethodConfig: { Values: values } }]);
  const tls: Record<string, string> = spec?.certificateArn
    ? {
        'alb.ingress.kubernetes.io/certificate-arn': spec.certificateArn,
        'alb.ingress.kubernetes.io/listen-ports': '[{"HTTP": 80}, {"HTTPS": 443}]',
        'alb.ingress.kubernetes.io/ssl-redirect': '443',
      }
    : {};
  const path = (p: string, name: string, port: { name: string } | { number: number }) => ({
    path: p,
    pathType: 'Prefix',
    backend: { service: { name, port } },
  });
  const metadata = ownedMetadata(cr, objectName(cr));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      ...metadata,
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        'alb.ingress.kubernetes.io/target-type': 'ip',
        'alb.ingress.kubernetes.io/healthcheck-port': String(ADMIN_PORT),
        'alb.ingress.kubernetes.io/healthcheck-path': '/readyz',
        'alb.ingress.kubernetes.io/actions.reads': forwardTo('queryApi'),
        'alb.ingress.kubernetes.io/conditions.reads': methods(READ_METHODS),
        ...tls,
      },
    },
    spec: {
      ingressClassName: spec?.ingressClassName,
      rules: [
        {
          host: spec?.host,
          http: {
            paths: [
              path(NOTIFIER_PREFIX, objectName(cr, 'notifier'), { number: 80 }),
              path('/', 'reads', { name: 'use-annotation' }),
              path('/', objectName(cr, 'reservationApi'), { number: 80 }),
            ],
          },
        },
      ],
    },
  };
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
