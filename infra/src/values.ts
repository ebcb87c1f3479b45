import { type ClusterConfig, edgeHost, type InfraConfig, recordFqdn } from './config.ts';

/**
 * The two charts' values for one cluster (pure). The AWS-side values (queue URLs, zone id,
 * certificate) are passed in: at synthesis they are references to other stacks' outputs.
 */

/** The Kubernetes Secret the services read their backend URLs from (made from the Backends secret). */
export const BACKENDS_SECRET = 'booking-backends';
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
  return {
    nameOverride: config.reservation.name,
    version: config.images.version,
    image: { repository: config.images.repository },
    backends: {
      mysql: {
        primary: { existingSecret: BACKENDS_SECRET, key: 'primary-url' },
        replica: { existingSecret: BACKENDS_SECRET, key: 'replica-url' },
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
    edge: { host: edgeHost(config, cluster), kind: 'Ingress', ingressClassName: 'alb', certificateArn: outputs.certificateArn },
    traffic: {
      cluster: cluster.name,
      dns: { hostedZoneId: outputs.hostedZoneId, name: recordFqdn(config), ttl: RECORD_TTL_SECONDS },
      weight: cluster.weight,
    },
  };
}
