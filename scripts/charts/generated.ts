import { ReservationSpec } from '@reservations/operator/api';
import { crdFiles, toStructuralSchema } from '@reservations/operator/crd';

/**
 * Files under charts/ that are derived, never edited: the operator chart's CRDs (a copy of
 * crds/, which helm installs before the templates) and the platform chart's values schema,
 * built from the same Reservation API so `helm install` rejects what the API server would.
 * `npm run generate:crds` writes them; a test fails when they are stale.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The CRD's schema made strict for values: unknown keys are mistakes (a typo would otherwise
 * be dropped silently by the API server's pruning), and the Kubernetes extensions, which helm
 * does not evaluate, go (the API server still checks the CEL rules on install).
 */
export function strict(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strict(v as JsonObject)]));
    } else if (key === 'items' && isObject(value)) {
      out.items = strict(value);
    } else {
      out[key] = value;
    }
  }
  if (isObject(out.properties)) out.additionalProperties = false;
  return out;
}

const credential = (what: string, key: string, extra: JsonObject = {}): JsonObject => ({
  type: 'object',
  additionalProperties: false,
  description: `${what}: the key of an existing Secret (existingSecret) or a value this chart puts in a Secret`,
  properties: {
    ...extra,
    existingSecret: {
      type: 'string',
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$',
      maxLength: 253,
      description: "a Secret in the release's namespace",
    },
    key: { type: 'string', minLength: 1, default: key, description: 'the key in that Secret' },
    value: { type: 'string', description: 'the credential itself, when this chart creates the Secret' },
  },
});

/** A service's own MySQL account: a Secret that exists, or a user and its password (both: half of one is refused). */
const databaseAccount = (service: string, urls: string): JsonObject => ({
  type: 'object',
  additionalProperties: false,
  description: `${service}'s own MySQL account: existingSecret (a Secret with ${urls}) or user and password`,
  properties: {
    existingSecret: {
      type: 'string',
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$',
      maxLength: 253,
      description: "a Secret in the release's namespace",
    },
    user: { type: 'string', minLength: 1, maxLength: 32, description: "the account's name (MySQL's limit is 32 characters)" },
    password: { type: 'string', minLength: 1, description: "the account's password" },
  },
  dependencies: { user: ['password'], password: ['user'] },
});

export function platformValuesSchema(): JsonObject {
  const spec = toStructuralSchema(ReservationSpec);
  const props = spec.properties as Record<string, JsonObject>;
  const backends = (props.backends as JsonObject).properties as Record<string, JsonObject>;
  // Required by the template instead, whose message says what the URL is for.
  const { required: _required, ...sqs } = strict(backends.sqs as JsonObject);
  const { algorithm, issuer, audience, jwksUrl } = (backends.jwt as JsonObject).properties as Record<string, JsonObject>;
  const version = props.version as JsonObject;
  const image = (props.image as JsonObject).properties as Record<string, JsonObject>;
  return {
    $schema: 'https://json-schema.org/draft-07/schema#',
    title: 'reservation-platform values (generated from operator/src/api by npm run generate:crds)',
    type: 'object',
    additionalProperties: false,
    properties: {
      global: { type: 'object' },
      nameOverride: {
        type: 'string',
        pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$',
        maxLength: 40,
        description: "the Reservation's name (default: the release name)",
      },
      version: {
        ...version,
        pattern: `^$|${String(version.pattern)}`,
        description: `${version.description} (default: the chart's appVersion)`,
      },
      image: {
        type: 'object',
        additionalProperties: false,
        required: ['repository'],
        properties: { repository: image.repository as JsonObject, pullPolicy: image.pullPolicy as JsonObject },
      },
      services: strict(props.services as JsonObject),
      database: {
        type: 'object',
        additionalProperties: false,
        properties: {
          primaryHost: {
            type: 'string',
            pattern: '^[^/:@?#\\s]*$',
            description: 'the MySQL primary the accounts given by user connect to',
          },
          replicaHost: {
            type: 'string',
            pattern: '^[^/:@?#\\s]*$',
            description: 'the MySQL replica the accounts given by user connect to',
          },
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          name: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$', description: 'the database' },
          options: { type: 'string', pattern: '^[^\\s#]*$', description: "the URLs' query string, without the '?'" },
          accounts: {
            type: 'object',
            additionalProperties: false,
            properties: {
              reservationApi: databaseAccount('reservation-api', 'primary-url'),
              queryApi: databaseAccount('query-api', 'primary-url and replica-url'),
              notifier: databaseAccount('the notifier', 'primary-url and replica-url'),
            },
          },
        },
      },
      backends: {
        type: 'object',
        additionalProperties: false,
        required: ['mysql', 'redis', 'sqs', 'jwt', 'signing', 'webhookSecrets'],
        properties: {
          mysql: {
            type: 'object',
            additionalProperties: false,
            properties: { primary: credential('the MySQL primary URL', 'url'), replica: credential('the MySQL replica URL', 'url') },
          },
          redis: credential('the Redis URL', 'url'),
          signing: credential('the keys consistency tokens and cache entries are signed with (BOOKING_SIGNING_KEYS)', 'keys'),
          webhookSecrets: credential('the keys that seal webhook secrets at rest (WEBHOOK_SECRET_KEYS)', 'keys'),
          sqs,
          // issuer and audience are required by the template instead, whose message says what each is.
          jwt: credential('the JWT verification key (or jwksUrl instead)', 'key', {
            issuer: issuer as JsonObject,
            audience: audience as JsonObject,
            jwksUrl: jwksUrl as JsonObject,
            algorithm: algorithm as JsonObject,
          }),
        },
      },
      edge: strict(props.edge as JsonObject),
      traffic: strict(props.traffic as JsonObject),
      serviceAccount: strict(props.serviceAccount as JsonObject),
    },
  };
}

/** Each generated file, by its path from the repository root. */
export function generatedChartFiles(): { path: string; content: string }[] {
  return [
    ...crdFiles().map(({ file, yaml }) => ({ path: `charts/reservation-operator/crds/${file}`, content: yaml })),
    { path: 'charts/reservation-platform/values.schema.json', content: `${JSON.stringify(platformValuesSchema(), null, 2)}\n` },
  ];
}
