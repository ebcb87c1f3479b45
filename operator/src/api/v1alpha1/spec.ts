import { type Static, Type } from 'typebox';
import { OPERATOR_OWNED_ENV, UNSAFE_ENV } from '../../desired/env.ts';
import { DNS_LABEL, Enum, HOSTNAME, QUANTITY, rules } from './schema.ts';
import { Traffic } from './traffic.ts';

/** spec: the images, the services and their workloads, the backends they use, the public edge and the traffic. */

/** The services the platform runs; their keys in `spec.services` and `status.services`. */
export const SERVICE_NAMES = ['reservationApi', 'queryApi', 'notifier'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
/** Each service's name in Kubernetes, in images and in messages. */
export const SERVICE_COMPONENTS: Record<ServiceName, string> = {
  reservationApi: 'reservation-api',
  queryApi: 'query-api',
  notifier: 'notifier',
};

const SecretKeyRef = (what: string, defaultKey: string) =>
  Type.Object(
    {
      name: Type.String({
        pattern: DNS_LABEL,
        maxLength: 253,
        description: `name of the Secret, in the Reservation's namespace, that holds ${what}`,
      }),
      key: Type.String({ minLength: 1, default: defaultKey, description: `key in that Secret (default "${defaultKey}")` }),
    },
    { description: `where ${what} comes from; credentials are never inline` },
  );

const Resources = Type.Object(
  {
    requests: Type.Object(
      {
        cpu: Type.String({ pattern: QUANTITY, default: '100m', description: 'CPU the scheduler reserves per pod, e.g. 250m' }),
        memory: Type.String({ pattern: QUANTITY, default: '128Mi', description: 'memory the scheduler reserves per pod, e.g. 256Mi' }),
      },
      { default: {}, description: 'what each pod is guaranteed; HPA CPU utilisation is a percentage of requests.cpu' },
    ),
    limits: Type.Object(
      {
        memory: Type.String({ pattern: QUANTITY, default: '512Mi', description: 'memory limit per pod; above it the container is killed' }),
      },
      { default: {}, description: 'hard limits per pod; CPU is deliberately not limited (throttling hurts latency)' },
    ),
  },
  { default: {}, description: 'compute resources of each pod of this service' },
);

const EnvVar = Type.Object(
  {
    // maxLength bounds the cost of the CEL rules on env.
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256, description: 'environment variable name' }),
    value: Type.String({ description: 'its value (use backends.* Secret references for credentials, not this)' }),
  },
  { description: 'an extra environment variable' },
);

const celList = (names: readonly string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;

/** The spec's env is appended after the operator's, and a container's env wins over envFrom. */
const envRules = (service: ServiceName) =>
  rules(
    {
      rule: `self.all(e, !(e.name in ${celList(OPERATOR_OWNED_ENV)}))`,
      message: `spec.services.${service}.env may not set ${OPERATOR_OWNED_ENV.join(', ')}: the operator sets them (from spec.backends and its own settings)`,
    },
    {
      rule: `self.all(e, !(e.name in ${celList(UNSAFE_ENV)}))`,
      message: `spec.services.${service}.env may not set ${UNSAFE_ENV.join(', ')}: they switch off protections (private addresses and plain HTTP for webhooks, TLS verification) and are for local development and tests only`,
    },
  );

/** ServiceAccount annotations: a map in the schema (additionalProperties: string). */
const serviceAccountAnnotations = (description: string) =>
  Type.Optional(Type.Object({}, { additionalProperties: Type.String({ maxLength: 4096 }), maxProperties: 64, description }));

const serviceProperties = (service: ServiceName, defaults: { min: number; max: number }) => ({
  image: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'full image reference for this service; default <spec.image.repository>/<service>:<spec.version>',
    }),
  ),
  replicas: Type.Object(
    {
      min: Type.Integer({ minimum: 1, maximum: 1000, default: defaults.min, description: 'fewest pods the autoscaler keeps' }),
      max: Type.Integer({ minimum: 1, maximum: 1000, default: defaults.max, description: 'most pods the autoscaler may run' }),
    },
    {
      default: {},
      description: 'replica bounds of the HorizontalPodAutoscaler',
      ...rules({ rule: 'self.min <= self.max', message: 'replicas.min must not be greater than replicas.max' }),
    },
  ),
  targetCPUUtilization: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 70,
    description: 'average CPU use, in percent of requests.cpu, that the autoscaler aims for',
  }),
  resources: Resources,
  env: Type.Array(EnvVar, {
    maxItems: 64,
    default: [],
    description: 'extra environment variables for this service',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
    ...envRules(service),
  }),
  serviceAccount: Type.Optional(
    Type.Object(
      {
        annotations: serviceAccountAnnotations(
          "annotations of this service's own ServiceAccount, over spec.serviceAccount.annotations, e.g. eks.amazonaws.com/role-arn: this service's IAM role (IRSA)",
        ),
      },
      { description: `the ServiceAccount ${service} runs as: <name>-<service>, its own, so each service gets only its own cloud role` },
    ),
  ),
});

/**
 * The service's own MySQL account (least privilege: each service is granted only its tables,
 * docs/install.md#database-users), as URLs in Secrets; without it, spec.backends.mysql. Only the
 * servers the service connects to: reservation-api writes the primary; query-api and the notifier
 * read the replica as well, with the same account, so both come together.
 */
const serviceMysql = (service: ServiceName) => {
  const owner = `${SERVICE_COMPONENTS[service]}'s own MySQL account`;
  const primarySecretRef = SecretKeyRef(`the MySQL primary URL with ${owner} (mysql://user:password@host:port/db)`, 'url');
  const description = `${owner}, instead of spec.backends.mysql's shared one`;
  if (service === 'reservationApi') return Type.Optional(Type.Object({ primarySecretRef }, { description }));
  const field = `spec.services.${service}.mysql`;
  return Type.Optional(
    Type.Object(
      {
        primarySecretRef: Type.Optional(primarySecretRef),
        replicaSecretRef: Type.Optional(SecretKeyRef(`the MySQL read replica URL with ${owner}`, 'url')),
      },
      {
        description,
        ...rules({
          rule: 'has(self.primarySecretRef) && has(self.replicaSecretRef)',
          message: `${field} needs both primarySecretRef and replicaSecretRef: ${SERVICE_COMPONENTS[service]} reads both servers as its one account (leave out ${field} to use spec.backends.mysql for both)`,
        }),
      },
    ),
  );
};

const ApiService = (service: ServiceName, what: string, defaults: { min: number; max: number }) =>
  Type.Object({ ...serviceProperties(service, defaults), mysql: serviceMysql(service) }, { default: {}, description: what });

const NotifierService = Type.Object(
  {
    ...serviceProperties('notifier', { min: 1, max: 10 }),
    mysql: serviceMysql('notifier'),
    targetQueueDepthPerReplica: Type.Integer({
      minimum: 1,
      default: 100,
      description: 'visible SQS messages per notifier pod that the autoscaler aims for (an External metric)',
    }),
  },
  { default: {}, description: 'the SQS consumer that notifies providers (webhook and SSE)' },
);

const Edge = Type.Object(
  {
    host: Type.String({
      pattern: HOSTNAME,
      description: "this cluster's public hostname for the API, e.g. api.blue.reservations.example.com",
    }),
    kind: Enum(['HTTPRoute', 'Ingress'] as const, {
      default: 'HTTPRoute',
      description: 'HTTPRoute (Gateway API, method matches) or Ingress (AWS Load Balancer Controller, method conditions)',
    }),
    parentRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({ pattern: DNS_LABEL, description: 'name of the Gateway' }),
          namespace: Type.Optional(
            Type.String({ pattern: DNS_LABEL, description: "the Gateway's namespace (default: the Reservation's)" }),
          ),
          sectionName: Type.Optional(Type.String({ pattern: DNS_LABEL, description: 'a listener of that Gateway' })),
        },
        { description: 'the Gateway the HTTPRoute attaches to (kind HTTPRoute only)' },
      ),
    ),
    ingressClassName: Type.String({ default: 'alb', description: 'IngressClass (kind Ingress only)' }),
    certificateArn: Type.Optional(
      Type.String({ pattern: '^arn:aws:acm:', description: 'ACM certificate for HTTPS on the ALB (kind Ingress only)' }),
    ),
  },
  {
    description: 'the public entry: writes go to reservation-api, reads to query-api, the notification stream to notifier',
    ...rules(
      {
        rule: "self.kind != 'HTTPRoute' || has(self.parentRef)",
        message: 'edge.parentRef (the Gateway) is required when edge.kind is HTTPRoute',
      },
      // Otherwise the setting is silently ignored, and the SRE believes it is in force.
      {
        rule: "self.kind == 'HTTPRoute' || !has(self.parentRef)",
        message: 'edge.parentRef (a Gateway) only applies to edge.kind HTTPRoute; an Ingress is not attached to a Gateway',
      },
      {
        rule: "self.kind == 'Ingress' || !has(self.certificateArn)",
        message: "edge.certificateArn only applies to edge.kind Ingress; with an HTTPRoute, HTTPS is the Gateway listener's certificate",
      },
    ),
  },
);

export const ReservationSpec = Type.Object(
  {
    version: Type.String({
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
      maxLength: 128,
      description: "image tag of every service unless a service sets its own image; also the pods' app.kubernetes.io/version label",
      // An image tag may be 128 characters and begin with '_'; a label value may not.
      ...rules({
        rule: "self.size() <= 63 && self.matches('^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$')",
        message:
          "spec.version must be at most 63 characters and begin and end with a letter or digit: it is the pods' app.kubernetes.io/version label, and Kubernetes refuses label values otherwise",
      }),
    }),
    image: Type.Object(
      {
        repository: Type.String({ minLength: 1, description: 'registry and path; each image is <repository>/<service>:<version>' }),
        pullPolicy: Enum(['IfNotPresent', 'Always', 'Never'] as const, {
          default: 'IfNotPresent',
          description: 'imagePullPolicy of every container',
        }),
      },
      { description: 'where the images come from' },
    ),
    services: Type.Object(
      {
        reservationApi: ApiService('reservationApi', 'the command side: create, confirm, cancel, reschedule', { min: 2, max: 20 }),
        queryApi: ApiService('queryApi', 'the read side: cached reads from the replica', { min: 2, max: 40 }),
        notifier: NotifierService,
      },
      { default: {}, description: 'per service: image, replica bounds, autoscaling target, resources, extra env' },
    ),
    backends: Type.Object(
      {
        mysql: Type.Object(
          {
            primarySecretRef: SecretKeyRef('the MySQL primary URL (mysql://user:password@host:port/db)', 'url'),
            replicaSecretRef: SecretKeyRef('the MySQL read replica URL', 'url'),
          },
          {
            description:
              'MySQL: writes to the primary, reads from the replica; the account of every service that has no spec.services.<service>.mysql of its own',
          },
        ),
        redis: Type.Object({ secretRef: SecretKeyRef('the Redis URL (redis://...)', 'url') }, { description: 'Redis, the read cache' }),
        signing: Type.Object(
          {
            secretRef: SecretKeyRef(
              "the keys reservation-api and query-api sign consistency tokens and cache entries with (the services' BOOKING_SIGNING_KEYS: comma-separated, 32+ characters each, the first signs); the same in both clusters of a migration",
              'keys',
            ),
          },
          { description: 'what reservation-api signs and query-api checks: consistency tokens and cache entries' },
        ),
        webhookSecrets: Type.Object(
          {
            secretRef: SecretKeyRef(
              "the keys that seal webhook signing secrets at rest (the notifier's WEBHOOK_SECRET_KEYS: comma-separated id:base64key, each key 32 bytes, the first seals, all open); the same in both clusters of a migration",
              'keys',
            ),
          },
          { description: 'the key-encryption keys of the webhook secrets the notifier keeps in MySQL' },
        ),
        sqs: Type.Object(
          {
            queueUrl: Type.String({
              pattern: '^https?://',
              maxLength: 1024,
              description: 'URL of the event queue (FIFO: its name ends in .fifo)',
              ...rules({
                rule: "self.endsWith('.fifo')",
                message:
                  'spec.backends.sqs.queueUrl must be a FIFO queue (its name ends in .fifo): the event pipeline relies on message groups (per-reservation order) and deduplication ids',
              }),
            }),
            deadLetterQueueUrl: Type.String({
              pattern: '^https?://',
              maxLength: 1024,
              description: 'URL of its dead-letter queue (FIFO too)',
              ...rules({
                rule: "self.endsWith('.fifo')",
                message:
                  'spec.backends.sqs.deadLetterQueueUrl must be a FIFO queue (its name ends in .fifo): SQS only lets a FIFO queue redrive to a FIFO dead-letter queue, and the pipeline relies on message groups and deduplication ids',
              }),
            }),
          },
          {
            description: 'SQS queues of the event pipeline; access comes from the pod identity (IRSA)',
            ...rules({
              rule: 'self.queueUrl != self.deadLetterQueueUrl',
              message:
                'spec.backends.sqs.deadLetterQueueUrl must be another queue than queueUrl: a queue cannot be its own dead-letter queue',
            }),
          },
        ),
        jwt: Type.Object(
          {
            issuer: Type.String({
              minLength: 1,
              maxLength: 1024,
              description: "the `iss` every token must carry: the identity provider's issuer identifier (the services' JWT_ISSUER)",
            }),
            audience: Type.String({
              minLength: 1,
              maxLength: 256,
              description: "the `aud` every token must carry: this platform as the identity provider names it (the services' JWT_AUDIENCE)",
            }),
            algorithm: Enum(['RS256', 'HS256'] as const, {
              default: 'RS256',
              description:
                "with secretRef: RS256, the Secret holds the issuer's public key (PEM); HS256, a shared secret of 32+ characters",
            }),
            secretRef: Type.Optional(SecretKeyRef('the JWT verification key', 'key')),
            jwksUrl: Type.Optional(
              Type.String({
                pattern: '^https://',
                maxLength: 2048,
                description: "the issuer's JWKS URL, instead of secretRef: keys picked by each token's kid, fetched again on rotation",
              }),
            ),
          },
          {
            description: 'how the APIs verify bearer tokens',
            ...rules({
              rule: 'has(self.secretRef) != has(self.jwksUrl)',
              message:
                "spec.backends.jwt needs exactly one of secretRef (a static key) and jwksUrl (the issuer's keys by kid): a token is verified with one kind of key",
            }),
          },
        ),
      },
      { description: 'the data stores and queues the services use' },
    ),
    serviceAccount: Type.Optional(
      Type.Object(
        {
          annotations: serviceAccountAnnotations(
            "annotations of every service's ServiceAccount (a service's own spec.services.<service>.serviceAccount.annotations win)",
          ),
        },
        { description: 'what the three services’ ServiceAccounts share (each service runs as its own: <name>-<service>)' },
      ),
    ),
    edge: Type.Optional(Edge),
    traffic: Type.Optional(Traffic),
  },
  {
    description: 'the desired installation of the reservation platform in this cluster',
    // Without spec.traffic nobody looks after the weighted record any more, which would go on
    // sending its share of clients here. The way out is the finalizer's: weight 0, then delete.
    ...rules({
      rule: '!has(oldSelf.traffic) || has(self.traffic)',
      message:
        "spec.traffic cannot be removed: this cluster's weighted record would go on serving its weight with nobody to look after it; " +
        'set spec.traffic.weight to 0 and delete the Reservation (its finalizer removes the record once weight 0 is verified)',
    }),
  },
);

export type ReservationSpec = Static<typeof ReservationSpec>;
export type ServiceSpec = ReservationSpec['services'][ServiceName];
