import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Reservation } from '@reservations/operator/api';
import { desiredObjects } from '@reservations/operator/desired';
import type { KubeObject } from '@reservations/operator/kube';
import { createTestNamespace, testKubeConfig } from '@reservations/operator/testing';
import { find, helm, helmTemplateResult, PLATFORM_CHART, render } from './support/charts.ts';
import { dryRunApply, installChartCrds } from './support/cluster.ts';

const EKS = join(PLATFORM_CHART, 'examples', 'eks.yaml');
const LOCAL = join(PLATFORM_CHART, 'examples', 'local.yaml');
const QUEUES = {
  'backends.sqs.queueUrl': 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events.fifo',
  'backends.sqs.deadLetterQueueUrl': 'https://sqs.eu-west-1.amazonaws.com/123456789012/reservation-events-dlq.fifo',
};
/** The least an SRE sets: the queues, the token issuer and audience, and where each credential is. */
const MINIMAL = {
  ...QUEUES,
  'backends.jwt.issuer': 'https://idp.example.com/',
  'backends.jwt.audience': 'reservations',
  'backends.mysql.primary.existingSecret': 'mysql',
  'backends.mysql.replica.existingSecret': 'mysql-replica',
  'backends.redis.existingSecret': 'redis',
  'backends.jwt.existingSecret': 'jwt',
  'backends.signing.existingSecret': 'booking-signing',
  'backends.webhookSecrets.existingSecret': 'booking-webhook-secrets',
};

let namespace: string;
beforeAll(async () => {
  await installChartCrds();
  namespace = await createTestNamespace(testKubeConfig(), 'platform-chart');
});

/** The env var → Secret key references of every container the operator will run for this Reservation. */
function secretRefs(cr: Reservation): string[] {
  const deployments = desiredObjects({ ...cr, metadata: { ...cr.metadata, uid: 'uid' } }).filter((o) => o.kind === 'Deployment');
  return deployments.flatMap((d) =>
    (
      d.spec as { template: { spec: { containers: { env: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] } } }
    ).template.spec.containers
      .flatMap((c) => c.env)
      .flatMap((e) => (e.valueFrom?.secretKeyRef ? [`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`] : [])),
  );
}

const secretKeys = (objects: KubeObject[]) =>
  objects.filter((o) => o.kind === 'Secret').flatMap((s) => Object.keys(s.data as object).map((k) => `${s.metadata.name}/${k}`));

describe('charts/reservation-platform', () => {
  it.each([
    ['the EKS example', EKS],
    ['the local example', LOCAL],
  ])('lints clean with %s', async (_what, file) => {
    const r = await helm('lint', '--strict', PLATFORM_CHART, '--values', file);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('needs the credentials and the queues from the SRE, and says which is missing', async () => {
    const defaults = await helmTemplateResult(PLATFORM_CHART, { namespace });
    expect(defaults.code).not.toBe(0);
    expect(defaults.stderr).toContain(
      'backends: mysql.primary needs existingSecret (a Secret that exists) or value (this chart creates the Secret)',
    );
    const { 'backends.sqs.queueUrl': _queue, ...noQueue } = MINIMAL;
    const r = await helmTemplateResult(PLATFORM_CHART, { namespace, set: noQueue });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('backends.sqs.queueUrl is required: the URL of the event queue (FIFO)');
    const { 'backends.jwt.issuer': _issuer, ...noIssuer } = MINIMAL;
    const i = await helmTemplateResult(PLATFORM_CHART, { namespace, set: noIssuer });
    expect(i.code).not.toBe(0);
    expect(i.stderr).toContain(
      "backends.jwt.issuer is required: the iss every token must carry (the identity provider's issuer identifier)",
    );
  });

  it('renders the minimal values into a Reservation that references existing Secrets, which the API server accepts', async () => {
    const { yaml, objects } = await render(PLATFORM_CHART, { release: 'booking', namespace, set: MINIMAL });
    expect(objects.map((o) => o.kind)).toEqual(['Reservation']);
    const cr = find(objects, 'Reservation') as unknown as Reservation;
    expect(cr.metadata).toMatchObject({ name: 'booking', namespace });
    expect(cr.spec.version).toBe('0.1.0'); // the chart's appVersion
    expect(cr.spec.backends.mysql.primarySecretRef).toEqual({ name: 'mysql', key: 'url' });
    expect(await dryRunApply(yaml, namespace)).toMatchObject({ code: 0, error: '' });
  });

  it('renders the EKS example (every field) into the Reservation it describes, which the API server accepts', async () => {
    const { yaml, objects } = await render(PLATFORM_CHART, { release: 'green', namespace, valuesFiles: [EKS] });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]); // credentials come from existing Secrets
    const applied = await dryRunApply(yaml, namespace);
    expect(applied).toMatchObject({ code: 0, error: '' });
    // As the API server would store it (defaults filled in): what the operator will act on.
    const cr = find(applied.objects, 'Reservation') as unknown as Reservation;
    expect(cr.metadata.name).toBe('booking'); // nameOverride
    expect(cr.spec.traffic?.cutover?.steps?.length).toBe(6);
    expect(cr.spec.edge).toMatchObject({
      host: 'api.green.reservations.example.com',
      kind: 'HTTPRoute',
      parentRef: { name: 'public', namespace: 'gateways', sectionName: 'https' },
    });
    // Tokens are verified with the identity provider's JWKS: no key Secret.
    expect(cr.spec.backends.jwt).toMatchObject({
      issuer: 'https://idp.example.com/',
      jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
    });
    // Each service as its own database account: none reads the shared booking-mysql.
    expect([...new Set(secretRefs(cr))].sort()).toEqual([
      'booking-mysql-notifier/primary-url',
      'booking-mysql-notifier/replica-url',
      'booking-mysql-query-api/primary-url',
      'booking-mysql-query-api/replica-url',
      'booking-mysql-reservation-api/primary-url',
      'booking-redis/url',
      'booking-signing/keys',
      'booking-webhook-secrets/keys',
    ]);
  });

  it('creates a Secret for each credential given by value, holding exactly what the pods read', async () => {
    const { yaml, objects } = await render(PLATFORM_CHART, { release: 'dev', namespace, valuesFiles: [LOCAL] });
    const applied = await dryRunApply(yaml, namespace);
    expect(applied).toMatchObject({ code: 0, error: '' });
    const cr = find(applied.objects, 'Reservation') as unknown as Reservation;
    expect(secretKeys(objects).sort()).toEqual([
      'dev-jwt/key',
      'dev-mysql-primary/url',
      'dev-mysql-replica/url',
      'dev-redis/url',
      'dev-signing/keys',
      'dev-webhook-secrets/keys',
    ]);
    expect([...new Set(secretRefs(cr))].sort()).toEqual(secretKeys(objects).sort());
    const redis = find(objects, 'Secret', 'dev-redis') as unknown as { data: { url: string } };
    expect(Buffer.from(redis.data.url, 'base64').toString()).toBe('redis://host.docker.internal:6379');
  });

  it('leaves cross-field rules to the API server, whose dry run names them', async () => {
    const { yaml } = await render(PLATFORM_CHART, {
      namespace,
      set: { ...MINIMAL, 'services.queryApi.replicas.min': '10', 'services.queryApi.replicas.max': '2' },
    });
    const applied = await dryRunApply(yaml, namespace);
    expect(applied.code).not.toBe(0);
    expect(applied.error).toContain('replicas.min must not be greater than replicas.max');
  });

  // values.schema.json is generated from the Reservation API: helm refuses these before the API server sees them.
  it.each([
    ['a replica minimum of 0', { 'services.queryApi.replicas.min': '0' }, "at '/services/queryApi/replicas/min': minimum: got 0, want 1"],
    ['a misspelt service', { 'services.queryAPI.replicas.min': '2' }, "additional properties 'queryAPI' not allowed"],
    [
      'a JWT algorithm it does not verify',
      { 'backends.jwt.algorithm': 'ES256' },
      "at '/backends/jwt/algorithm': value must be one of 'RS256', 'HS256'",
    ],
    ['a JWKS URL in clear text', { 'backends.jwt.jwksUrl': 'http://idp.example.com/jwks' }, "at '/backends/jwt/jwksUrl'"],
    ['a queue URL without its scheme', { 'backends.sqs.queueUrl': 'sqs.eu-west-1.amazonaws.com/1/q.fifo' }, "at '/backends/sqs/queueUrl'"],
    [
      'a Route53 weight above 255',
      { 'traffic.cluster': 'eks-green', 'traffic.weight': '300' },
      "at '/traffic/weight': maximum: got 300, want 255",
    ],
    ['a Secret name with capitals', { 'backends.redis.existingSecret': 'Redis' }, "at '/backends/redis/existingSecret'"],
    [
      'an edge kind it cannot make',
      { 'edge.host': 'api.example.com', 'edge.kind': 'Service' },
      "at '/edge/kind': value must be one of 'HTTPRoute', 'Ingress'",
    ],
    [
      'a memory request with a typo',
      { 'services.notifier.resources.requests.memory': '128MB' },
      "at '/services/notifier/resources/requests/memory'",
    ],
    ['an edge without its host', { 'edge.kind': 'Ingress' }, "at '/edge': missing property 'host'"],
    [
      'a database user without its password',
      { 'database.accounts.queryApi.user': 'query_api' },
      "at '/database/accounts/queryApi': properties 'password' required, if 'user' exists",
    ],
    [
      'a database password without its user',
      { 'database.accounts.notifier.password': 'secret' },
      "at '/database/accounts/notifier': properties 'user' required, if 'password' exists",
    ],
    [
      'a misspelt service in database.accounts',
      { 'database.accounts.queryAPI.existingSecret': 'x' },
      "at '/database/accounts': additional properties 'queryAPI' not allowed",
    ],
    [
      'a database Secret name with capitals',
      { 'database.accounts.notifier.existingSecret': 'Notifier' },
      "at '/database/accounts/notifier/existingSecret'",
    ],
    ['a database host with a path', { 'database.primaryHost': 'db.example.com/reservations' }, "at '/database/primaryHost'"],
  ])('refuses %s with a message naming the value', async (_what, set, message) => {
    const r = await helmTemplateResult(PLATFORM_CHART, { namespace, set: { ...MINIMAL, ...set } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(message);
  });

  it('refuses a credential given neither as a Secret nor as a value, naming it', async () => {
    const { 'backends.redis.existingSecret': _redis, ...rest } = MINIMAL;
    const r = await helmTemplateResult(PLATFORM_CHART, { namespace, set: rest });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('backends: redis needs existingSecret (a Secret that exists) or value (this chart creates the Secret)');
  });
  describe('database.accounts: a MySQL account per service', () => {
    /** Every service by user and password, the hosts they connect to. */
    const BY_VALUE = {
      ...MINIMAL,
      'database.primaryHost': 'writer.proxy.example.com',
      'database.replicaHost': 'reader.proxy.example.com',
      'database.options': 'ssl=%7B%22rejectUnauthorized%22%3Atrue%7D',
      'database.accounts.reservationApi.user': 'reservation_api',
      'database.accounts.reservationApi.password': 'p@ss w+rd/1',
      'database.accounts.queryApi.user': 'query_api',
      'database.accounts.queryApi.password': 'secret-2',
      'database.accounts.notifier.user': 'notifier',
      'database.accounts.notifier.password': 'secret-3',
    };
    const decoded = (objects: KubeObject[], name: string) =>
      Object.fromEntries(
        Object.entries((find(objects, 'Secret', name) as unknown as { data: Record<string, string> }).data).map(([k, v]) => [
          k,
          Buffer.from(v, 'base64').toString(),
        ]),
      );

    it("renders a Secret per service with its own account's URLs, which its pods read and the API server accepts", async () => {
      const { yaml, objects } = await render(PLATFORM_CHART, { release: 'accounts', namespace, set: BY_VALUE });
      const applied = await dryRunApply(yaml, namespace);
      expect(applied).toMatchObject({ code: 0, error: '' });
      const options = '?ssl=%7B%22rejectUnauthorized%22%3Atrue%7D';
      // The password escaped for the URL's userinfo: mysql2 reads it back as it was given.
      expect(decoded(objects, 'accounts-mysql-reservation-api')).toEqual({
        'primary-url': `mysql://reservation_api:p%40ss%20w%2Brd%2F1@writer.proxy.example.com:3306/reservations${options}`,
      });
      expect(decodeURIComponent(new URL(decoded(objects, 'accounts-mysql-reservation-api')['primary-url'] as string).password)).toBe(
        'p@ss w+rd/1',
      );
      expect(decoded(objects, 'accounts-mysql-query-api')).toEqual({
        'primary-url': `mysql://query_api:secret-2@writer.proxy.example.com:3306/reservations${options}`,
        'replica-url': `mysql://query_api:secret-2@reader.proxy.example.com:3306/reservations${options}`,
      });
      expect(decoded(objects, 'accounts-mysql-notifier')).toEqual({
        'primary-url': `mysql://notifier:secret-3@writer.proxy.example.com:3306/reservations${options}`,
        'replica-url': `mysql://notifier:secret-3@reader.proxy.example.com:3306/reservations${options}`,
      });
      // As the API server stores it, and what the operator runs from it: each service reads only its own Secret.
      const cr = find(applied.objects, 'Reservation') as unknown as Reservation;
      expect(cr.spec.services.queryApi.mysql).toEqual({
        primarySecretRef: { name: 'accounts-mysql-query-api', key: 'primary-url' },
        replicaSecretRef: { name: 'accounts-mysql-query-api', key: 'replica-url' },
      });
      // Each service reads only its own Secret: none the shared backends.mysql (`mysql`, `mysql-replica`).
      expect([...new Set(secretRefs(cr))].filter((r) => r.includes('mysql')).sort()).toEqual([
        'accounts-mysql-notifier/primary-url',
        'accounts-mysql-notifier/replica-url',
        'accounts-mysql-query-api/primary-url',
        'accounts-mysql-query-api/replica-url',
        'accounts-mysql-reservation-api/primary-url',
      ]);
    });

    it('references an existing Secret without rendering one, beside the services settings', async () => {
      const { yaml, objects } = await render(PLATFORM_CHART, {
        release: 'existing',
        namespace,
        set: {
          ...MINIMAL,
          'database.accounts.notifier.existingSecret': 'booking-mysql-notifier',
          'services.notifier.replicas.min': '2',
        },
      });
      expect(objects.map((o) => o.kind)).toEqual(['Reservation']);
      const applied = await dryRunApply(yaml, namespace);
      expect(applied).toMatchObject({ code: 0, error: '' });
      const cr = find(applied.objects, 'Reservation') as unknown as Reservation;
      expect(cr.spec.services.notifier).toMatchObject({
        replicas: { min: 2 },
        mysql: {
          primarySecretRef: { name: 'booking-mysql-notifier', key: 'primary-url' },
          replicaSecretRef: { name: 'booking-mysql-notifier', key: 'replica-url' },
        },
      });
      // The others keep the shared account.
      expect(cr.spec.services.queryApi.mysql).toBeUndefined();
      expect(cr.spec.services.reservationApi.mysql).toBeUndefined();
    });

    it.each([
      [
        'an account with neither a Secret nor a user',
        { 'database.accounts.reservationApi.existingSecret': '' },
        'database.accounts.reservationApi needs existingSecret (a Secret with primary-url) or user and password (this chart makes the Secret)',
      ],
      [
        'an account given both ways',
        {
          'database.accounts.queryApi.existingSecret': 'q',
          'database.accounts.queryApi.user': 'q',
          'database.accounts.queryApi.password': 'p',
        },
        'database.accounts.queryApi: give existingSecret or user and password, not both',
      ],
      [
        'a user and password without the host',
        { 'database.accounts.notifier.user': 'notifier', 'database.accounts.notifier.password': 'p', 'database.primaryHost': '' },
        "database.primaryHost is required: the MySQL server database.accounts.notifier's URL names (it has user and password)",
      ],
      [
        'an account given here and in services',
        { 'database.accounts.notifier.existingSecret': 'n', 'services.notifier.mysql.primarySecretRef.name': 'x' },
        "services.notifier.mysql and database.accounts.notifier both give notifier's account: keep one",
      ],
    ])('refuses %s with its message, rendering nothing', async (_what, set, message) => {
      const r = await helmTemplateResult(PLATFORM_CHART, { namespace, set: { ...MINIMAL, ...set } });
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
    });
  });
});
