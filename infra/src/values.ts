import { type ClusterConfig, edgeHost, type InfraConfig, recordFqdn } from './config.ts';

/**
 * The two charts' values for one cluster (pure). The AWS-side values (queue URLs, zone id,
 * certificate) are passed in: at synthesis they are references to other stacks' outputs.
 */

/** The Kubernetes Secret the services read their backend URLs from (made from the Backends secret). */
export const BACKENDS_SECRET = 'booking-backends';
/**
 * Each service's own MySQL account (docs/install.md#database-users): the user the grant step
 * creates and grants, the Kubernetes Secret holding its URLs (`primary-url`, and `replica-url`
 * when it reads the replica too), and its key in the chart's `database.accounts`.
 */
export const DATABASE_ACCOUNTS = [
  { key: 'reservationApi', service: 'reservation-api', user: 'reservation_api', secret: 'booking-mysql-reservation-api', replica: false },
  { key: 'queryApi', service: 'query-api', user: 'query_api', secret: 'booking-mysql-query-api', replica: true },
  { key: 'notifier', service: 'notifier', user: 'notifier', secret: 'booking-mysql-notifier', replica: true },
] as const;
export type DatabaseAccount = (typeof DATABASE_ACCOUNTS)[number];
/** The Kubernetes Secret of the schema's owner: what the migrate and grant Jobs read (env names as keys). */
export const MIGRATOR_SECRET = 'booking-mysql-migrator';
/** The grant command's variable of an account's user or password (packages/database/src/grant.ts). */
export const grantVariable = (account: DatabaseAccount, what: 'USER' | 'PASSWORD') =>
  `DB_${what}_${account.service.toUpperCase().replaceAll('-', '_')}`;

/** The Kubernetes Secret holding the JWT issuer's public key (the issuer is not part of this app). */
export const JWT_SECRET = 'booking-jwt';
/** Every weighted record's TTL: short, so a cutover's weights reach clients quickly. */
export const RECORD_TTL_SECONDS = 30;

export function operatorValues(config: InfraConfig) {
  return {
    image: { repository: `${config.images.repository}/reservation-operator`, tag: config.images.version },
    aws: { region: config.region },
    // The services reach Aurora through RDS Proxy, which may open all of the writer's connections.
    database: { maxConnections: config.database.maxConnections },
    // EKS Pod Identity gives the pods their role: no IRSA annotation (roleArn stays empty).
    serviceAccount: { create: true, name: config.operator.serviceAccount },
  };
}

export interface PlatformOutputs {
  queueUrl: string;
  deadLetterQueueUrl: string;
  hostedZoneId: string;
  certificateArn: string;
}

export function platformValues(config: InfraConfig, cluster: ClusterConfig, outputs: PlatformOutputs) {
  const readOnly = DATABASE_ACCOUNTS[1];
  return {
    nameOverride: config.reservation.name,
    version: config.images.version,
    image: { repository: config.images.repository },
    backends: {
      // Unused while every service has its account below; the Reservation requires it, so it names
      // the read-only account: a service whose account is dropped gets the least, not the owner.
      mysql: {
        primary: { existingSecret: readOnly.secret, key: 'primary-url' },
        replica: { existingSecret: readOnly.secret, key: 'replica-url' },
      },
      redis: { existingSecret: BACKENDS_SECRET, key: 'redis-url' },
      signing: { existingSecret: BACKENDS_SECRET, key: 'booking-signing-keys' },
      webhookSecrets: { existingSecret: BACKENDS_SECRET, key: 'webhook-secret-keys' },
      sqs: { queueUrl: outputs.queueUrl, deadLetterQueueUrl: outputs.deadLetterQueueUrl },
      jwt: {
        issuer: config.auth.issuer,
        audience: config.auth.audience,
        // The IdP's JWKS when given (key rotation without a restart), else its public key from a Secret.
        ...(config.auth.jwksUrl ? { jwksUrl: config.auth.jwksUrl } : { algorithm: 'RS256', existingSecret: JWT_SECRET, key: 'public.pem' }),
      },
    },
    // Each service as its own account, from the Secret made from its Secrets Manager secret.
    database: { accounts: Object.fromEntries(DATABASE_ACCOUNTS.map((a) => [a.key, { existingSecret: a.secret }])) },
    edge: { host: edgeHost(config, cluster), kind: 'Ingress', ingressClassName: 'alb', certificateArn: outputs.certificateArn },
    traffic: {
      cluster: cluster.name,
      dns: { hostedZoneId: outputs.hostedZoneId, name: recordFqdn(config), ttl: RECORD_TTL_SECONDS },
      weight: cluster.weight,
    },
  };
}
