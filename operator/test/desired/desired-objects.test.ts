import { describe, expect, it } from '@jest/globals';
import { desiredObjects } from '../../src/desired/index.ts';
import { queueLabel, SHUTDOWN, terminationGraceSeconds } from '../../src/desired/workloads.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import { sampleReservation } from '../support/fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;

const find = (objects: KubeObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as KubeObject & { spec: Record<string, Json> };
};
const container = (d: KubeObject & { spec: Record<string, Json> }) => d.spec.template.spec.containers[0];

describe('desiredObjects', () => {
  const cr = sampleReservation({ edge: { host: 'api.green.example.com', kind: 'HTTPRoute', parentRef: { name: 'public' } } });
  const objects = desiredObjects(cr);

  it('makes a ServiceAccount, Deployment, Service, HPA and PDB per service, plus the shared ConfigMaps and edge', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/booking-config',
        'ConfigMap/booking-drain',
        'HTTPRoute/booking',
        ...['reservation-api', 'query-api', 'notifier'].flatMap((c) => [
          `ServiceAccount/booking-${c}`,
          `Deployment/booking-${c}`,
          `Service/booking-${c}`,
          `HorizontalPodAutoscaler/booking-${c}`,
          `PodDisruptionBudget/booking-${c}`,
        ]),
      ].sort(),
    );
  });

  it('makes the Reservation the controlling owner of everything, in its namespace', () => {
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('reservations');
      expect(o.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'platform.reservations.dev/v1alpha1',
          kind: 'Reservation',
          name: 'booking',
          uid: cr.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('reservation-operator');
    }
  });

  it('probes the admin port and leaves the replica count to the autoscaler', () => {
    const d = find(objects, 'Deployment', 'booking-query-api');
    expect(d.spec.replicas).toBeUndefined();
    const c = container(d);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.ports).toContainEqual({ name: 'admin', containerPort: 9090, protocol: 'TCP' });
    expect(c.image).toBe('registry.example.com/reservations/query-api:1.4.2');
  });

  it('gives the pod time for preStop, the readiness delay and in-flight requests before SIGKILL', () => {
    const d = find(objects, 'Deployment', 'booking-reservation-api');
    expect(container(d).lifecycle.preStop).toEqual({ sleep: { seconds: SHUTDOWN.preStopSeconds } });
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(terminationGraceSeconds());
    expect(terminationGraceSeconds()).toBeGreaterThan(SHUTDOWN.preStopSeconds + (SHUTDOWN.delayMs + SHUTDOWN.timeoutMs) / 1000);
    const config = find(objects, 'ConfigMap', 'booking-config');
    expect(config.data).toMatchObject({ SHUTDOWN_DELAY_MS: '1000', SHUTDOWN_TIMEOUT_MS: '20000' });
  });

  it('passes each service only the credentials it needs, by Secret reference', () => {
    const names = (c: string) => container(find(objects, 'Deployment', `booking-${c}`)).env.map((e: { name: string }) => e.name);
    expect(names('reservation-api')).toEqual(['MYSQL_PRIMARY_URL', 'REDIS_URL', 'JWT_PUBLIC_KEY', 'BOOKING_SIGNING_KEYS']);
    expect(names('query-api')).toEqual(['MYSQL_REPLICA_URL', 'MYSQL_PRIMARY_URL', 'REDIS_URL', 'JWT_PUBLIC_KEY', 'BOOKING_SIGNING_KEYS']);
    // The notifier neither signs nor checks consistency tokens or cache entries: it gets no signing
    // key; it alone gets the keys that open the webhook secrets.
    expect(names('notifier')).toEqual(['MYSQL_PRIMARY_URL', 'MYSQL_REPLICA_URL', 'REDIS_URL', 'JWT_PUBLIC_KEY', 'WEBHOOK_SECRET_KEYS']);
    expect(container(find(objects, 'Deployment', 'booking-query-api')).env.at(-1)).toEqual({
      name: 'BOOKING_SIGNING_KEYS',
      valueFrom: { secretKeyRef: { name: 'booking-signing', key: 'keys' } },
    });
    expect(container(find(objects, 'Deployment', 'booking-notifier')).env.at(-1)).toEqual({
      name: 'WEBHOOK_SECRET_KEYS',
      valueFrom: { secretKeyRef: { name: 'booking-webhook-secrets', key: 'keys' } },
    });
    const hs256 = desiredObjects(
      sampleReservation({ backends: { ...cr.spec.backends, jwt: { ...cr.spec.backends.jwt, algorithm: 'HS256' } } }),
    );
    expect(container(find(hs256, 'Deployment', 'booking-notifier')).env.map((e: { name: string }) => e.name)).toContain('JWT_SECRET');
    expect(container(find(objects, 'Deployment', 'booking-query-api')).env[0]).toEqual({
      name: 'MYSQL_REPLICA_URL',
      valueFrom: { secretKeyRef: { name: 'mysql-replica', key: 'url' } },
    });
  });

  it("gives a service its own MySQL account's Secrets when the spec names them, the shared spec.backends.mysql otherwise", () => {
    const ref = (name: string) => ({ name, key: 'url' });
    const own = desiredObjects(
      sampleReservation({
        services: {
          reservationApi: { mysql: { primarySecretRef: ref('mysql-reservation-api') } },
          queryApi: { mysql: { primarySecretRef: ref('mysql-query-api-primary'), replicaSecretRef: ref('mysql-query-api-replica') } },
        },
      } as never),
    );
    const mysqlEnv = (c: string) =>
      Object.fromEntries(
        container(find(own, 'Deployment', `booking-${c}`))
          .env.filter((e: { name: string }) => e.name.startsWith('MYSQL_'))
          .map((e: { name: string; valueFrom: { secretKeyRef: { name: string } } }) => [e.name, e.valueFrom.secretKeyRef.name]),
      );
    expect(mysqlEnv('reservation-api')).toEqual({ MYSQL_PRIMARY_URL: 'mysql-reservation-api' });
    expect(mysqlEnv('query-api')).toEqual({ MYSQL_PRIMARY_URL: 'mysql-query-api-primary', MYSQL_REPLICA_URL: 'mysql-query-api-replica' });
    // The notifier names none: the shared account, as before.
    expect(mysqlEnv('notifier')).toEqual({ MYSQL_PRIMARY_URL: 'mysql-primary', MYSQL_REPLICA_URL: 'mysql-replica' });
  });

  it('tells the services the token issuer and audience, and with a JWKS URL references no key Secret', () => {
    expect(find(objects, 'ConfigMap', 'booking-config').data).toMatchObject({
      JWT_ISSUER: 'https://idp.example.com/',
      JWT_AUDIENCE: 'reservations',
    });
    const { secretRef: _static, ...jwt } = cr.spec.backends.jwt;
    const jwks = desiredObjects(
      sampleReservation({ backends: { ...cr.spec.backends, jwt: { ...jwt, jwksUrl: 'https://idp.example.com/.well-known/jwks.json' } } }),
    );
    expect(find(jwks, 'ConfigMap', 'booking-config').data).toMatchObject({ JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' });
    for (const service of ['reservation-api', 'query-api', 'notifier']) {
      const names = container(find(jwks, 'Deployment', `booking-${service}`)).env.map((e: { name: string }) => e.name);
      expect(names.filter((n: string) => n.startsWith('JWT_'))).toEqual([]);
    }
  });

  it('rolls the pods when the shared configuration changes', () => {
    const hash = (o: KubeObject[]) =>
      find(o, 'Deployment', 'booking-notifier').spec.template.metadata.annotations['platform.reservations.dev/config-hash'];
    const other = sampleReservation({
      backends: { ...cr.spec.backends, sqs: { ...cr.spec.backends.sqs, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/other.fifo' } },
    });
    expect(hash(desiredObjects(other))).not.toBe(hash(objects));
    expect(hash(desiredObjects(cr))).toBe(hash(objects));
  });

  it('honours a per-service image, replica bounds and extra env', () => {
    const custom = sampleReservation({
      services: {
        notifier: {
          image: 'registry.example.com/notifier@sha256:abc',
          replicas: { min: 3, max: 7 },
          env: [{ name: 'FEATURE_X', value: 'on' }],
        },
      },
    });
    const o = desiredObjects(custom);
    const d = find(o, 'Deployment', 'booking-notifier');
    expect(container(d).image).toBe('registry.example.com/notifier@sha256:abc');
    expect(container(d).env).toContainEqual({ name: 'FEATURE_X', value: 'on' });
    const hpa = find(o, 'HorizontalPodAutoscaler', 'booking-notifier');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 7]);
  });

  it("mounts the drain switch, which says true only while a peer's cutover asks this cluster for Connection: close", () => {
    const deployment = find(objects, 'Deployment', 'booking-query-api');
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'drain', configMap: { name: 'booking-drain', optional: true } });
    expect(container(deployment).volumeMounts).toContainEqual({
      name: 'drain',
      mountPath: '/etc/reservation/drain',
      readOnly: true,
    });
    expect(find(objects, 'ConfigMap', 'booking-drain').data).toEqual({ 'connection-close': 'false' });
    const handover = { by: 'reservation-operator-eks-green', since: '2026-11-25T10:00:00Z', weight: 0, connectionClose: true };
    const draining = desiredObjects({ ...cr, status: { traffic: { handover } } } as typeof cr);
    expect(find(draining, 'ConfigMap', 'booking-drain').data).toEqual({ 'connection-close': 'true' });
    // A step that lowered this cluster's share: the rebalance, spread over the record's TTL.
    const rebalance = { fromShare: 100, toShare: 75, fraction: 0.25, since: '2026-11-25T10:00:00Z' };
    const moving = desiredObjects({
      ...cr,
      status: { traffic: { handover: { by: handover.by, since: handover.since, weight: 75, rebalance } } },
    } as typeof cr);
    const { data } = find(moving, 'ConfigMap', 'booking-drain') as unknown as { data: Record<string, string> };
    expect(JSON.parse(data['connection-close'] ?? '')).toEqual({
      fraction: 0.25,
      since: '2026-11-25T10:00:00Z',
      spreadSeconds: cr.spec.traffic?.dns.ttl ?? 60,
    });
    // Not part of the config hash: flipping it must not restart the pods it drains.
    expect(find(draining, 'Deployment', 'booking-query-api').spec.template.metadata.annotations).toEqual(
      deployment.spec.template.metadata.annotations,
    );
  });

  it("raises an HPA's minReplicas to the traffic controller's floor (pre-scaling, keeping warm), never past the maximum", () => {
    const cr = sampleReservation({ services: { queryApi: { replicas: { min: 2, max: 6 } } } });
    const min = (floors: Record<string, number>) =>
      find(
        desiredObjects({ ...cr, status: { traffic: { minReplicas: floors } } } as typeof cr),
        'HorizontalPodAutoscaler',
        'booking-query-api',
      ).spec.minReplicas;
    expect(min({ queryApi: 4 })).toBe(4);
    expect(min({ queryApi: 9 })).toBe(6);
    expect(min({ queryApi: 1 })).toBe(2);
    expect(min({ reservationApi: 5 })).toBe(2);
  });

  it('scales the notifier on queue depth per pod as well as CPU', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'booking-notifier');
    expect(hpa.spec.metrics.map((m: { type: string }) => m.type)).toEqual(['Resource', 'External']);
    expect(hpa.spec.metrics[1].external.target).toEqual({ type: 'AverageValue', averageValue: '100' });
    expect(find(objects, 'HorizontalPodAutoscaler', 'booking-query-api').spec.metrics).toHaveLength(1);
  });

  it('labels the queue depth metric with a valid label value, however long the queue name', () => {
    expect(queueLabel('https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events.fifo')).toBe('reservation-events.fifo');
    // 80 characters, the longest FIFO name: cut at 63, which here would end in '-'.
    const long = `${'a'.repeat(62)}-${'b'.repeat(12)}.fifo`;
    expect(queueLabel(`https://sqs.eu-west-1.amazonaws.com/1/${long}`)).toBe('a'.repeat(62));
    expect(queueLabel('https://sqs.eu-west-1.amazonaws.com/1/_x:y_')).toBe('x_y');
  });

  it('routes /v1/providers (stream and webhooks) to notifier, reads to query-api and the rest to reservation-api (HTTPRoute)', () => {
    const route = find(objects, 'HTTPRoute', 'booking');
    expect(route.spec.parentRefs).toEqual([{ name: 'public' }]);
    expect(route.spec.hostnames).toEqual(['api.green.example.com']);
    expect(route.spec.rules.map((r: { matches: unknown; backendRefs: { name: string }[] }) => [r.matches, r.backendRefs[0]?.name])).toEqual(
      [
        [[{ path: { type: 'PathPrefix', value: '/v1/providers' } }], 'booking-notifier'],
        [
          [
            { path: { type: 'PathPrefix', value: '/' }, method: 'GET' },
            { path: { type: 'PathPrefix', value: '/' }, method: 'HEAD' },
          ],
          'booking-query-api',
        ],
        [[{ path: { type: 'PathPrefix', value: '/' } }], 'booking-reservation-api'],
      ],
    );
  });

  it('routes by method through ALB conditions (Ingress)', () => {
    const ingress = find(
      desiredObjects(sampleReservation({ edge: { host: 'api.blue.example.com', kind: 'Ingress' } })),
      'Ingress',
      'booking',
    );
    const a = ingress.metadata.annotations ?? {};
    expect(JSON.parse(a['alb.ingress.kubernetes.io/conditions.reads'] ?? '')).toEqual([
      { field: 'http-request-method', httpRequestMethodConfig: { Values: ['GET', 'HEAD'] } },
    ]);
    expect(JSON.parse(a['alb.ingress.kubernetes.io/actions.reads'] ?? '').forwardConfig.targetGroups[0].serviceName).toBe(
      'booking-query-api',
    );
    expect(ingress.spec.ingressClassName).toBe('alb');
    expect(
      ingress.spec.rules[0].http.paths.map((p: { path: string; backend: { service: { name: string } } }) => [
        p.path,
        p.backend.service.name,
      ]),
    ).toEqual([
      ['/v1/providers', 'booking-notifier'],
      ['/', 'reads'],
      ['/', 'booking-reservation-api'],
    ]);
  });

  it('runs each service as its own ServiceAccount, annotated with what all share and then its own (IRSA), and only then', () => {
    const role = (name: string) => ({ 'eks.amazonaws.com/role-arn': `arn:aws:iam::123456789012:role/${name}` });
    const annotated = desiredObjects(
      sampleReservation({
        serviceAccount: { annotations: { ...role('shared'), 'example.com/team': 'booking' } },
        services: {
          reservationApi: { serviceAccount: { annotations: role('relay') } },
          notifier: { serviceAccount: { annotations: role('notifier') } },
        },
      }),
    );
    expect(find(annotated, 'ServiceAccount', 'booking-reservation-api').metadata.annotations).toEqual({
      ...role('relay'),
      'example.com/team': 'booking',
    });
    expect(find(annotated, 'ServiceAccount', 'booking-notifier').metadata.annotations).toEqual({
      ...role('notifier'),
      'example.com/team': 'booking',
    });
    expect(find(annotated, 'ServiceAccount', 'booking-query-api').metadata.annotations).toEqual({
      ...role('shared'),
      'example.com/team': 'booking',
    });
    for (const c of ['reservation-api', 'query-api', 'notifier']) {
      expect(find(objects, 'ServiceAccount', `booking-${c}`).metadata.annotations).toBeUndefined();
      expect((find(objects, 'Deployment', `booking-${c}`) as Json).spec.template.spec.serviceAccountName).toBe(`booking-${c}`);
    }
  });

  it('makes no edge object without spec.edge', () => {
    expect(desiredObjects(sampleReservation()).some((o) => ['HTTPRoute', 'Ingress'].includes(o.kind))).toBe(false);
  });
});
