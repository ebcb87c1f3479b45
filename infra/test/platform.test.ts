import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { ClusterStack } from '../src/cluster-stack.ts';
import { child } from '../src/nag.ts';
import { render, resourcesOf, type Synthesized, synthesizeExample } from './support/platform.ts';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesizeExample();
}, 480_000);
afterAll(() => synth?.remove());

const logicalId = (c: IConstruct) => Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement);

/** The statements of the inline policy CDK attaches to a role (its DefaultPolicy). */
function policyOf(template: Template, roleId: string) {
  const policies = resourcesOf(template, 'AWS::IAM::Policy').filter(([, r]) =>
    (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId),
  );
  expect(policies).toHaveLength(1);
  const [, policy] = policies[0] as (typeof policies)[number];
  return (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
}

/** The name the data stack exports an output under, found by what the output's value is. */
function exportOf(data: Template, value: unknown): string {
  const outputs = Object.values(data.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>);
  const found = outputs.filter((o) => JSON.stringify(o.Value) === JSON.stringify(value) && o.Export);
  expect(found).toHaveLength(1);
  return found[0]?.Export?.Name as string;
}

function onlyResource(template: Template, type: string) {
  const all = resourcesOf(template, type);
  expect(all).toHaveLength(1);
  return all[0] as (typeof all)[number];
}

describe('the synthesized platform', () => {
  it('has the five stacks, each with resources', () => {
    const names = synth.assembly.stacks.map((s) => s.stackName).sort();
    expect(names).toEqual([
      'reservations-cluster-blue',
      'reservations-cluster-green',
      'reservations-data',
      'reservations-dns',
      'reservations-network',
    ]);
    for (const s of synth.assembly.stacks) expect(Object.keys((s.template as { Resources: object }).Resources).length).toBeGreaterThan(0);
  });

  it('looked nothing up: no context is missing, so `cdk synth` needs no AWS credentials', () => {
    expect(synth.assembly.manifest.missing ?? []).toEqual([]);
  });

  it('has no cdk-nag AwsSolutions finding left, and every acknowledged one says why', () => {
    type Report = { pluginName: string; violations: unknown[]; suppressedViolations?: { ruleName: string; reason?: string }[] };
    const report = JSON.parse(readFileSync(join(synth.dir, 'validation-report.json'), 'utf8')) as { pluginReports: Report[] };
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag?.violations).toEqual([]);
    const acknowledged = nag?.suppressedViolations ?? [];
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const a of acknowledged)
      expect({ rule: a.ruleName, reason: (a.reason ?? '').length > 20 }).toEqual({ rule: a.ruleName, reason: true });
  });
});

describe.each(['blue', 'green'] as const)('the %s cluster', (color) => {
  let stack: ClusterStack;
  let template: Template;
  beforeAll(() => {
    stack = synth.platform[color];
    template = synth.template(color);
  });

  it("gives the operator Route53 rights on its own record and ownership TXT in the platform's zone only", () => {
    const zoneExport = exportOf(synth.template('dns'), { Ref: logicalId(synth.platform.dns.zone) });
    const zoneArn = `arn:<ref:AWS::Partition>:route53:::hostedzone/<import:${zoneExport}>`;
    const statements = policyOf(template, logicalId(stack.operatorRole)).map((s) => ({ ...s, Resource: render(s.Resource) }));
    expect(statements).toEqual([
      {
        Sid: 'OwnWeightedRecordOnly',
        Effect: 'Allow',
        Action: 'route53:ChangeResourceRecordSets',
        Resource: zoneArn,
        Condition: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['api.reservations.example.com', 'cname-api.reservations.example.com'],
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME', 'TXT'],
          },
        },
      },
      { Sid: 'ReadZone', Effect: 'Allow', Action: 'route53:ListResourceRecordSets', Resource: zoneArn },
      { Sid: 'WaitForChange', Effect: 'Allow', Action: 'route53:GetChange', Resource: 'arn:aws:route53:::change/*' },
    ]);
  });

  it('gives each service that calls AWS a role of its own with the SQS calls its code makes, on the two queues only, and the queue key', () => {
    const data = synth.template('data');
    const arn = (construct: IConstruct) => `<import:${exportOf(data, { 'Fn::GetAtt': [logicalId(construct), 'Arn'] })}>`;
    const queue = arn(synth.platform.data.queue);
    const dlq = arn(synth.platform.data.deadLetterQueue);
    const key = arn(synth.platform.data.key);
    const statementsOf = (role: IConstruct) =>
      policyOf(template, logicalId(role)).map((s) => ({
        ...s,
        Resource: Array.isArray(s.Resource) ? s.Resource.map(render) : render(s.Resource),
      }));
    expect(statementsOf(stack.reservationApiRole)).toEqual([
      { Sid: 'RelaySends', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue },
      { Sid: 'QueueKey', Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: key },
    ]);
    expect(statementsOf(stack.notifierRole)).toEqual([
      {
        Sid: 'NotifierConsumes',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
        Resource: queue,
      },
      { Sid: 'NotifierReadsDepth', Effect: 'Allow', Action: 'sqs:GetQueueAttributes', Resource: [queue, dlq] },
      { Sid: 'QueueKey', Effect: 'Allow', Action: 'kms:Decrypt', Resource: key },
    ]);
    // query-api calls no AWS API: no association names its ServiceAccount.
    const associations = resourcesOf(template, 'AWS::EKS::PodIdentityAssociation').map(([, a]) => a.Properties.ServiceAccount);
    expect(associations.sort()).toEqual(['booking-notifier', 'booking-reservation-api', 'reservation-operator']);
  });

  it('hands each role to its ServiceAccount through EKS Pod Identity, and nothing else may assume it', () => {
    for (const [role, namespace, serviceAccount] of [
      [stack.operatorRole, 'reservation-system', 'reservation-operator'],
      [stack.reservationApiRole, 'reservations', 'booking-reservation-api'],
      [stack.notifierRole, 'reservations', 'booking-notifier'],
    ] as const) {
      template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
        Namespace: namespace,
        ServiceAccount: serviceAccount,
        RoleArn: { 'Fn::GetAtt': [logicalId(role), 'Arn'] },
      });
      const properties = (template.toJSON().Resources[logicalId(role)] as { Properties: Record<string, unknown> }).Properties;
      expect(properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [{ Action: ['sts:AssumeRole', 'sts:TagSession'], Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' } }],
      });
      expect(properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('allows no "*" action in any policy of the stack, and our roles no "*" resource', () => {
    for (const [, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
      for (const s of (policy.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement) {
        expect([s.Action].flat()).not.toContain('*');
      }
    }
    for (const role of [stack.operatorRole, stack.reservationApiRole, stack.notifierRole]) {
      for (const s of policyOf(template, logicalId(role))) expect([s.Resource].flat()).not.toContain('*');
    }
  });

  it('encrypts Kubernetes Secrets with its own key and logs every control plane component', () => {
    const [, cluster] = onlyResource(template, 'AWS::EKS::Cluster');
    expect(cluster.Properties.Name).toBe(`eks-${color}`);
    expect(cluster.Properties.EncryptionConfig).toEqual([
      { Provider: { KeyArn: { 'Fn::GetAtt': [expect.stringMatching(/^SecretsKey/), 'Arn'] } }, Resources: ['secrets'] },
    ]);
    expect(cluster.Properties.Logging).toEqual({
      ClusterLogging: {
        EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((Type) => ({ Type })),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('installs the operator chart, then the Reservation with values wired from the other stacks', () => {
    const charts = resourcesOf(template, 'Custom::AWSCDK-EKS-HelmChart');
    const byRelease = new Map(
      charts.map(([id, r]) => [r.Properties.Release as string, { id, values: JSON.parse(render(r.Properties.Values)) }]),
    );
    expect([...byRelease.keys()].sort()).toEqual(['aws-load-balancer-controller', 'booking', 'reservation-operator']);
    const operator = byRelease.get('reservation-operator');
    expect(operator?.values).toEqual({
      image: { repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reservations/reservation-operator', tag: '1.4.2' },
      aws: { region: 'eu-west-1' },
      database: { maxConnections: 1000 },
      serviceAccount: { create: true, name: 'reservation-operator' },
    });
    const data = synth.template('data');
    const url = (construct: IConstruct) => `<import:${exportOf(data, { Ref: logicalId(construct) })}>`;
    const zone = `<import:${exportOf(synth.template('dns'), { Ref: logicalId(synth.platform.dns.zone) })}>`;
    const certificate = `<ref:${logicalId(stack.node.findChild('EdgeCertificate'))}>`;
    expect(byRelease.get('booking')?.values).toEqual({
      nameOverride: 'booking',
      version: '1.4.2',
      image: { repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/reservations' },
      backends: {
        // Only the fallback of a service without its own account: the read-only one, never the owner's.
        mysql: {
          primary: { existingSecret: 'booking-mysql-query-api', key: 'primary-url' },
          replica: { existingSecret: 'booking-mysql-query-api', key: 'replica-url' },
        },
        redis: { existingSecret: 'booking-backends', key: 'redis-url' },
        signing: { existingSecret: 'booking-backends', key: 'booking-signing-keys' },
        webhookSecrets: { existingSecret: 'booking-backends', key: 'webhook-secret-keys' },
        sqs: { queueUrl: url(synth.platform.data.queue), deadLetterQueueUrl: url(synth.platform.data.deadLetterQueue) },
        jwt: { issuer: 'https://idp.example.com/', audience: 'reservations', jwksUrl: 'https://idp.example.com/.well-known/jwks.json' },
      },
      database: {
        accounts: {
          reservationApi: { existingSecret: 'booking-mysql-reservation-api' },
          queryApi: { existingSecret: 'booking-mysql-query-api' },
          notifier: { existingSecret: 'booking-mysql-notifier' },
        },
      },
      edge: { host: `api.eks-${color}.reservations.example.com`, kind: 'Ingress', ingressClassName: 'alb', certificateArn: certificate },
      traffic: {
        cluster: `eks-${color}`,
        dns: { hostedZoneId: zone, name: 'api.reservations.example.com', ttl: 30 },
        weight: color === 'blue' ? 100 : 0,
      },
    });
    // The Reservation waits for its CRD (the operator chart) and the load balancer controller.
    const dependsOn = template.toJSON().Resources[byRelease.get('booking')?.id as string].DependsOn as string[];
    expect(dependsOn).toEqual(expect.arrayContaining([byRelease.get('reservation-operator')?.id]));
    expect(dependsOn.some((d) => d.includes('AlbController'))).toBe(true);
  });

  it('lets its nodes reach RDS Proxy on 3306 and Redis on 6379, and nothing else of the data stack', () => {
    const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => ({
      to: render(r.Properties.GroupId),
      from: render(r.Properties.SourceSecurityGroupId),
      port: [r.Properties.FromPort, r.Properties.ToPort],
    }));
    const data = synth.template('data');
    const group = (construct: { node: IConstruct['node'] }) =>
      `<import:${exportOf(data, { 'Fn::GetAtt': [logicalId(construct as IConstruct), 'GroupId'] })}>`;
    const nodes = `<${logicalId(stack.cluster)}.ClusterSecurityGroupId>`;
    expect(ingress.filter((i) => i.to.startsWith('<import:'))).toEqual([
      { to: group(synth.platform.data.databaseClients), from: nodes, port: [3306, 3306] },
      { to: group(synth.platform.data.redisClients), from: nodes, port: [6379, 6379] },
    ]);
  });
});

describe('the data stack', () => {
  let data: Template;
  beforeAll(() => {
    data = synth.template('data');
  });
  const keyRef = () => ({ 'Fn::GetAtt': [logicalId(synth.platform.data.key), 'Arn'] });

  it('makes the events queue FIFO, deduplicated by id, encrypted, redriven to its FIFO DLQ after 5 receives', () => {
    const dlq = logicalId(synth.platform.data.deadLetterQueue);
    data.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'reservation-events.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
      VisibilityTimeout: 120,
      MessageRetentionPeriod: 1_209_600,
      KmsMasterKeyId: keyRef(),
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    data.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'reservation-events-dlq.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
      MessageRetentionPeriod: 1_209_600,
      KmsMasterKeyId: keyRef(),
      RedrivePolicy: Match.absent(),
    });
    // Both refuse plain HTTP.
    const denials = resourcesOf(data, 'AWS::SQS::QueuePolicy').map(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: { Effect: string; Condition: unknown }[] }).Statement[0],
    );
    expect(denials).toEqual([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]);
  });

  it('runs Aurora MySQL with a writer and a reader, encrypted, protected from deletion, GTID binlog and TLS only', () => {
    const [id, cluster] = onlyResource(data, 'AWS::RDS::DBCluster');
    expect(cluster.Properties).toEqual(
      expect.objectContaining({ Engine: 'aurora-mysql', StorageEncrypted: true, KmsKeyId: keyRef(), DeletionProtection: true }),
    );
    const instances = resourcesOf(data, 'AWS::RDS::DBInstance').map(([, r]) => r.Properties);
    expect(instances).toHaveLength(2);
    for (const i of instances)
      expect(i).toEqual(expect.objectContaining({ DBClusterIdentifier: { Ref: id }, DBInstanceClass: 'db.r7g.large' }));
    // One writer (promotion tier 0) and one reader.
    expect(instances.map((i) => i.PromotionTier).sort()).toEqual([0, 2]);
    data.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Parameters: Match.objectLike({
        binlog_format: 'ROW',
        gtid_mode: 'ON',
        enforce_gtid_consistency: 'ON',
        require_secure_transport: 'ON',
      }),
    });
    data.hasResourceProperties('AWS::RDS::DBProxy', { EngineFamily: 'MYSQL', RequireTLS: true });
    data.hasResourceProperties('AWS::RDS::DBProxyEndpoint', { TargetRole: 'READ_ONLY' });
    expect(data.toJSON().Resources[id].DeletionPolicy).toBe('Snapshot');
  });

  it('runs Redis with TLS, encryption at rest, AUTH from Secrets Manager and a replica in another zone', () => {
    const [, redis] = onlyResource(data, 'AWS::ElastiCache::ReplicationGroup');
    expect(redis.Properties).toEqual(
      expect.objectContaining({
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
        KmsKeyId: keyRef(),
        MultiAZEnabled: true,
        AutomaticFailoverEnabled: true,
        ReplicasPerNodeGroup: 1,
      }),
    );
    expect(render(redis.Properties.AuthToken)).toBe(
      `{{resolve:secretsmanager:<ref:${logicalId(synth.platform.data.node.findChild('RedisAuth'))}>:SecretString:::}}`,
    );
  });

  /** A secret's JSON value with its references written out, by the construct that made it. */
  const secretJson = (construct: IConstruct) => {
    const [, secret] = resourcesOf(data, 'AWS::SecretsManager::Secret').find(([id]) => id === logicalId(construct)) ?? [];
    return JSON.parse(render(secret?.Properties.SecretString)) as Record<string, string>;
  };
  const resolve = (construct: IConstruct, key: string) => `{{resolve:secretsmanager:<ref:${logicalId(construct)}>:SecretString:${key}::}}`;
  const tls = '?ssl=%7B%22rejectUnauthorized%22%3Atrue%7D';

  it('keeps every secret under the data key, and no password in the template', () => {
    const secrets = resourcesOf(data, 'AWS::SecretsManager::Secret');
    // The owner's credentials, Redis's AUTH token, the booking signing key, the webhook secrets' KEK,
    // the backends, the migrator's, and per service its account's credentials and its URLs.
    expect(secrets).toHaveLength(12);
    for (const [, s] of secrets) expect(s.Properties.KmsKeyId).toEqual(keyRef());
    const redis = onlyResource(data, 'AWS::ElastiCache::ReplicationGroup')[0];
    const stack = synth.platform.data;
    // No database URL: the owner's is the migrator's only, and each service has its own account.
    expect(secretJson(stack.backends)).toEqual({
      'redis-url': `rediss://:${resolve(stack.node.findChild('RedisAuth'), '')}@<${redis}.PrimaryEndPoint.Address>:6379`,
      'booking-signing-keys': resolve(stack.node.findChild('BookingSigningKey'), ''),
      'webhook-secret-keys': `kek-1:${resolve(stack.node.findChild('WebhookSecretKey'), '')}=`,
    });
  });

  it('gives each service an account of its own, with a generated password, its URLs in a secret of its own', () => {
    const { databaseCredentials, databaseUrls } = synth.platform.data;
    const proxy = logicalId(child(synth.platform.data, 'Database/Proxy'));
    const reader = logicalId(child(synth.platform.data, 'Database/Proxy/ReaderEndpoint'));
    const accounts = [
      ['reservationApi', 'reservation_api', false],
      ['queryApi', 'query_api', true],
      ['notifier', 'notifier', true],
    ] as const;
    for (const [key, user, replica] of accounts) {
      const credentials = databaseCredentials[key];
      const [, generated] = resourcesOf(data, 'AWS::SecretsManager::Secret').find(([id]) => id === logicalId(credentials)) ?? [];
      expect(generated?.Properties.GenerateSecretString).toMatchObject({
        SecretStringTemplate: JSON.stringify({ username: user }),
        GenerateStringKey: 'password',
      });
      const password = resolve(credentials, 'password');
      expect(secretJson(databaseUrls[key])).toEqual({
        'primary-url': `mysql://${user}:${password}@<${proxy}.Endpoint>:3306/reservations${tls}`,
        ...(replica ? { 'replica-url': `mysql://${user}:${password}@<${reader}.Endpoint>:3306/reservations${tls}` } : {}),
      });
    }
    // No service's secret names another's account or password, or the owner's.
    const all = Object.values(databaseUrls).map((s) => JSON.stringify(secretJson(s)));
    const owner = logicalId(child(synth.platform.data, 'Database/Secret/Attachment'));
    for (const [i, [key, user]] of accounts.entries()) {
      const others = accounts.filter(([k]) => k !== key);
      expect(all[i]).not.toContain(owner);
      expect(all[i]).not.toContain('mysql://booking:');
      for (const [other, otherUser] of others) {
        expect(all[i]).not.toContain(logicalId(databaseCredentials[other]));
        expect(all[i]).not.toContain(`mysql://${otherUser}:`);
      }
      expect(all[i]).toContain(`mysql://${user}:`);
    }
  });

  it("lets every account through RDS Proxy, which holds each one's secret", () => {
    const [, proxy] = onlyResource(data, 'AWS::RDS::DBProxy');
    const auth = proxy.Properties.Auth as { SecretArn: { Ref: string } }[];
    expect(auth.map((a) => a.SecretArn.Ref).sort()).toEqual(
      [
        logicalId(child(synth.platform.data, 'Database/Secret/Attachment')),
        ...Object.values(synth.platform.data.databaseCredentials).map((s) => logicalId(s)),
      ].sort(),
    );
  });

  it("puts the owner's URL and every account's user and password in the migrator's secret, as the grant step's variables", () => {
    const { databaseCredentials } = synth.platform.data;
    const owner = logicalId(child(synth.platform.data, 'Database/Secret/Attachment'));
    const proxy = logicalId(child(synth.platform.data, 'Database/Proxy'));
    expect(secretJson(synth.platform.data.migrator)).toEqual({
      MYSQL_PRIMARY_URL: `mysql://booking:{{resolve:secretsmanager:<ref:${owner}>:SecretString:password::}}@<${proxy}.Endpoint>:3306/reservations${tls}`,
      DB_USER_RESERVATION_API: 'reservation_api',
      DB_PASSWORD_RESERVATION_API: resolve(databaseCredentials.reservationApi, 'password'),
      DB_USER_QUERY_API: 'query_api',
      DB_PASSWORD_QUERY_API: resolve(databaseCredentials.queryApi, 'password'),
      DB_USER_NOTIFIER: 'notifier',
      DB_PASSWORD_NOTIFIER: resolve(databaseCredentials.notifier, 'password'),
    });
    // Each secret's ARN is an output: what the SRE reads to make the Kubernetes Secrets.
    const outputs = data.toJSON().Outputs as Record<string, { Value: unknown }>;
    const arns = Object.fromEntries(
      Object.entries(outputs)
        .filter(([k]) => k.endsWith('SecretArn'))
        .map(([k, o]) => [k, o.Value]),
    );
    expect(arns).toEqual({
      BackendsSecretArn: { Ref: logicalId(synth.platform.data.backends) },
      MigratorSecretArn: { Ref: logicalId(synth.platform.data.migrator) },
      ReservationApiMysqlSecretArn: { Ref: logicalId(synth.platform.data.databaseUrls.reservationApi) },
      QueryApiMysqlSecretArn: { Ref: logicalId(synth.platform.data.databaseUrls.queryApi) },
      NotifierMysqlSecretArn: { Ref: logicalId(synth.platform.data.databaseUrls.notifier) },
    });
  });
});
