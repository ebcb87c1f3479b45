import { CfnOutput, Duration, Fn, RemovalPolicy, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config.ts';
import { DATABASE_ACCOUNTS, type DatabaseAccount, grantVariable } from './values.ts';

/** Characters a generated password leaves out so that it goes into a URL's userinfo as it is. */
const NOT_IN_URLS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\^,=';
const MYSQL_PORT = 3306;
const pascal = (key: string) => key[0]?.toUpperCase() + key.slice(1);
const REDIS_PORT = 6379;

/**
 * What both clusters share: Aurora MySQL (a writer and readers) behind RDS Proxy, ElastiCache
 * Redis, the events queue and its dead-letter queue, and the secrets that hold the credentials.
 * Everything is encrypted at rest with this stack's key and in transit with TLS; the stores
 * that hold data are protected from deletion.
 */
export class DataStack extends Stack {
  readonly key: kms.Key;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** The groups a cluster's nodes must be let into (the cluster stacks add the rules). */
  readonly databaseClients: ec2.SecurityGroup;
  readonly redisClients: ec2.SecurityGroup;
  /** `redis-url`, `booking-signing-keys` and `webhook-secret-keys`: what every service's Kubernetes Secret carries. */
  readonly backends: secretsmanager.Secret;
  /** Per service, its own account's generated credentials (`username`, `password`), which RDS Proxy lets in. */
  readonly databaseCredentials: Record<DatabaseAccount['key'], rds.DatabaseSecret>;
  /** Per service, its account's URLs (`primary-url`, and `replica-url` if it reads the replica): its Kubernetes Secret. */
  readonly databaseUrls: Record<DatabaseAccount['key'], secretsmanager.Secret>;
  /** The owner's URL and every account's user and password, as the migrate and grant commands' variables. */
  readonly migrator: secretsmanager.Secret;

  constructor(scope: Construct, id: string, config: InfraConfig, vpc: ec2.IVpc, props: StackProps) {
    super(scope, id, props);
    this.key = new kms.Key(this, 'DataKey', {
      description: 'Encrypts the reservation platform data at rest (Aurora, Redis, SQS, secrets)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const dataSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

    // Aurora MySQL: binlog with GTIDs, which the services read to wait for a replica to catch up
    // with a write (read-your-writes), and TLS required on every connection.
    const parameters = new rds.ParameterGroup(this, 'ClusterParameters', {
      engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_12_0 }),
      description: 'Reservation platform: GTID binlog and TLS only',
      parameters: {
        binlog_format: 'ROW',
        gtid_mode: 'ON',
        enforce_gtid_consistency: 'ON',
        require_secure_transport: 'ON',
        transaction_isolation: 'REPEATABLE-READ',
        character_set_server: 'utf8mb4',
        collation_server: 'utf8mb4_0900_ai_ci',
      },
    });
    this.databaseClients = new ec2.SecurityGroup(this, 'DatabaseProxyGroup', {
      vpc,
      description: 'RDS Proxy in front of Aurora: reached by the clusters nodes on 3306',
      allowAllOutbound: false,
    });
    const databaseGroup = new ec2.SecurityGroup(this, 'DatabaseGroup', {
      vpc,
      description: 'Aurora: reached by RDS Proxy only',
      allowAllOutbound: false,
    });
    databaseGroup.addIngressRule(this.databaseClients, ec2.Port.tcp(MYSQL_PORT), 'RDS Proxy to Aurora');
    this.databaseClients.addEgressRule(databaseGroup, ec2.Port.tcp(MYSQL_PORT), 'RDS Proxy to Aurora');
    const instance = (id: string) =>
      rds.ClusterInstance.provisioned(id, {
        instanceType: new ec2.InstanceType(config.database.instanceClass.replace(/^db\./, '')),
        enablePerformanceInsights: true,
        performanceInsightEncryptionKey: this.key,
        autoMinorVersionUpgrade: true,
      });
    const database = new rds.DatabaseCluster(this, 'Database', {
      engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_12_0 }),
      credentials: rds.Credentials.fromGeneratedSecret('booking', { encryptionKey: this.key, excludeCharacters: NOT_IN_URLS }),
      defaultDatabaseName: config.database.name,
      parameterGroup: parameters,
      writer: instance('Writer'),
      readers: Array.from({ length: config.database.readers }, (_, i) => instance(`Reader${i + 1}`)),
      vpc,
      vpcSubnets: dataSubnets,
      securityGroups: [databaseGroup],
      storageEncrypted: true,
      storageEncryptionKey: this.key,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      backup: { retention: Duration.days(config.database.backupRetentionDays) },
      cloudwatchLogsExports: ['error', 'slowquery', 'audit'],
      iamAuthentication: false,
    });
    // One account per service (docs/install.md#database-users), each with a generated password.
    // RDS Proxy lets in only the accounts whose secrets it holds.
    const owner = database.secret as secretsmanager.ISecret;
    const credentials = DATABASE_ACCOUNTS.map(
      (account) =>
        [
          account,
          new rds.DatabaseSecret(this, `${pascal(account.key)}DatabaseCredentials`, {
            username: account.user,
            encryptionKey: this.key,
            excludeCharacters: NOT_IN_URLS,
          }),
        ] as const,
    );
    this.databaseCredentials = Object.fromEntries(credentials.map(([a, secret]) => [a.key, secret])) as DataStack['databaseCredentials'];
    const proxy = database.addProxy('Proxy', {
      secrets: [owner, ...credentials.map(([, secret]) => secret)],
      vpc,
      vpcSubnets: dataSubnets,
      securityGroups: [this.databaseClients],
      requireTLS: true,
    });
    const readerEndpoint = proxy.addEndpoint('ReaderEndpoint', {
      vpc,
      vpcSubnets: dataSubnets,
      securityGroups: [this.databaseClients],
      targetRole: rds.ProxyEndpointTargetRole.READ_ONLY,
    });

    // Redis: AUTH with a generated token, TLS in transit, a replica in another zone to fail over to.
    const redisAuth = new secretsmanager.Secret(this, 'RedisAuth', {
      description: 'ElastiCache Redis AUTH token of the reservation platform',
      encryptionKey: this.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    this.redisClients = new ec2.SecurityGroup(this, 'RedisClients', {
      vpc,
      description: 'ElastiCache Redis: reached by the clusters nodes on 6379',
      allowAllOutbound: false,
    });
    const redisSubnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'Reservation platform Redis subnets',
      subnetIds: vpc.selectSubnets(dataSubnets).subnetIds,
    });
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'Reservation platform cache and rate limits',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: config.redis.nodeType,
      numNodeGroups: 1,
      replicasPerNodeGroup: config.redis.replicas,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      cacheSubnetGroupName: redisSubnets.ref,
      securityGroupIds: [this.redisClients.securityGroupId],
      port: REDIS_PORT,
      atRestEncryptionEnabled: true,
      kmsKeyId: this.key.keyArn,
      transitEncryptionEnabled: true,
      authToken: redisAuth.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: 1,
    });

    // The events queue: FIFO, deduplicated on the MessageDeduplicationId the relay sets (the
    // event id), and after maxReceiveCount failed receives a message moves to the DLQ.
    const fourteenDays = Duration.days(14);
    this.deadLetterQueue = new sqs.Queue(this, 'EventsDeadLetterQueue', {
      queueName: `${config.queue.name}-dlq.fifo`,
      fifo: true,
      contentBasedDeduplication: false,
      retentionPeriod: fourteenDays,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'EventsQueue', {
      queueName: `${config.queue.name}.fifo`,
      fifo: true,
      contentBasedDeduplication: false,
      retentionPeriod: fourteenDays,
      visibilityTimeout: Duration.seconds(config.queue.visibilityTimeoutSeconds),
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.queue.maxReceiveCount },
    });

    // The URLs the services take, assembled by CloudFormation from the generated credentials (the
    // passwords are dynamic references, resolved at deployment, never in the template).
    const password = (secret: secretsmanager.ISecret) => secret.secretValueFromJson('password').unsafeUnwrap();
    // mysql2 reads `ssl` as JSON: TLS, verifying RDS Proxy's certificate (a public ACM one) against Node's CAs.
    const tls = encodeURIComponent(JSON.stringify({ rejectUnauthorized: true }));
    const mysqlUrl = (user: string, secret: secretsmanager.ISecret, host: string) =>
      SecretValue.unsafePlainText(
        Fn.join('', [`mysql://${user}:`, password(secret), '@', host, `:${MYSQL_PORT}/${config.database.name}?ssl=${tls}`]),
      );
    const redisUrl = Fn.join('', [
      'rediss://:',
      redisAuth.secretValue.unsafeUnwrap(),
      '@',
      redis.attrPrimaryEndPointAddress,
      `:${REDIS_PORT}`,
    ]);
    // The key reservation-api signs consistency tokens and cache entries with and query-api checks
    // them with: one for both clusters (a client may write on one and read on the other).
    const signingKey = new secretsmanager.Secret(this, 'BookingSigningKey', {
      description: 'The key the reservation services sign consistency tokens and cache entries with (BOOKING_SIGNING_KEYS)',
      encryptionKey: this.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    // The key-encryption key the notifiers seal webhook secrets with (one for both clusters: they
    // share the database). 43 letters and digits and a `=` read as 32 bytes of base64 (256 bits of
    // entropy), the length WEBHOOK_SECRET_KEYS asks for; its id `kek-1` names it in each sealed row.
    const webhookSecretKey = new secretsmanager.Secret(this, 'WebhookSecretKey', {
      description: 'The key the notifier seals webhook signing secrets with (WEBHOOK_SECRET_KEYS)',
      encryptionKey: this.key,
      generateSecretString: { passwordLength: 43, excludePunctuation: true },
    });
    this.backends = new secretsmanager.Secret(this, 'Backends', {
      description: 'The reservation services shared Redis URL and keys (each has its own MySQL account)',
      encryptionKey: this.key,
      secretObjectValue: {
        'redis-url': SecretValue.unsafePlainText(redisUrl),
        'booking-signing-keys': SecretValue.unsafePlainText(signingKey.secretValue.unsafeUnwrap()),
        'webhook-secret-keys': SecretValue.unsafePlainText(`kek-1:${webhookSecretKey.secretValue.unsafeUnwrap()}=`),
      },
    });

    // Each service's URLs, through RDS Proxy, as its own account: no service gets another's.
    const urls = credentials.map(
      ([account, secret]) =>
        [
          account,
          new secretsmanager.Secret(this, `${pascal(account.key)}Mysql`, {
            description: `The MySQL URLs of ${account.service}'s own account (${account.user}) through RDS Proxy`,
            encryptionKey: this.key,
            secretObjectValue: {
              'primary-url': mysqlUrl(account.user, secret, proxy.endpoint),
              ...(account.replica ? { 'replica-url': mysqlUrl(account.user, secret, readerEndpoint.endpoint) } : {}),
            },
          }),
        ] as const,
    );
    this.databaseUrls = Object.fromEntries(urls.map(([a, secret]) => [a.key, secret])) as DataStack['databaseUrls'];
    // The owner migrates and runs the grant step (`grant.mjs --create`), which reads these variables.
    this.migrator = new secretsmanager.Secret(this, 'Migrator', {
      description: 'The schema owner URL and each service account, as the migrate and grant commands variables',
      encryptionKey: this.key,
      secretObjectValue: {
        MYSQL_PRIMARY_URL: mysqlUrl('booking', owner, proxy.endpoint),
        ...Object.fromEntries(
          credentials.flatMap(([account, secret]) => [
            [grantVariable(account, 'USER'), SecretValue.unsafePlainText(account.user)],
            [grantVariable(account, 'PASSWORD'), secret.secretValueFromJson('password')],
          ]),
        ),
      },
    });

    new CfnOutput(this, 'DatabaseWriterEndpoint', { value: proxy.endpoint });
    new CfnOutput(this, 'DatabaseReaderEndpoint', { value: readerEndpoint.endpoint });
    new CfnOutput(this, 'RedisEndpoint', { value: redis.attrPrimaryEndPointAddress });
    new CfnOutput(this, 'EventsQueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'EventsDeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'BackendsSecretArn', { value: this.backends.secretArn });
    new CfnOutput(this, 'MigratorSecretArn', { value: this.migrator.secretArn });
    for (const [account, secret] of urls) new CfnOutput(this, `${pascal(account.key)}MysqlSecretArn`, { value: secret.secretArn });
  }
}
