import { readFileSync } from 'node:fs';

/**
 * The one configuration of the infrastructure (pure): where it goes, its names and its sizes.
 * `parseConfig` checks a parsed JSON document field by field and reports every problem with the
 * field's path, so a wrong value stops `cdk synth` before anything is built.
 */

export interface ClusterConfig {
  /** The EKS cluster's name and the operator's Route53 set identifier (`traffic.cluster`). */
  name: string;
  /** The Route53 weight this cluster's Reservation starts with (0-255). */
  weight: number;
}

export interface InfraConfig {
  /** 12 digits; passed explicitly so synthesis needs no AWS credentials. */
  account: string;
  region: string;
  /** The hosted zone's domain, e.g. reservations.example.com. */
  domain: string;
  /** An existing hosted zone to use instead of creating one. */
  hostedZoneId?: string;
  /** The weighted record clients use: `<recordName>.<domain>`. */
  recordName: string;
  /** The Reservation's name (and so its namespace's ServiceAccount) and namespace. */
  reservation: { name: string; namespace: string };
  /** The identity provider whose tokens the APIs take: iss and aud every token must carry, and its JWKS (else a static key from a Secret). */
  auth: { issuer: string; audience: string; jwksUrl?: string };
  /** The operator's release namespace and ServiceAccount. */
  operator: { namespace: string; serviceAccount: string };
  /** Where the four images are pushed and which version runs. */
  images: { repository: string; version: string };
  /** The zones, named explicitly: synthesis looks nothing up (else CDK would invent dummy zones). */
  vpc: { cidr: string; availabilityZones: string[]; natGateways: number };
  kubernetesVersion: string;
  nodes: { instanceType: string; min: number; desired: number; max: number };
  /** maxConnections: the writer's max_connections, which RDS Proxy (at 100%) passes on: the operator's connection budget. */
  database: { instanceClass: string; readers: number; name: string; backupRetentionDays: number; maxConnections: number };
  redis: { nodeType: string; replicas: number };
  queue: { name: string; maxReceiveCount: number; visibilityTimeoutSeconds: number };
  blue: ClusterConfig;
  green: ClusterConfig;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const DNS_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HTTPS_URL = /^https:\/\/[^\s/]+(\/\S*)?$/;
/** The Kubernetes versions aws-cdk-lib's EKS module and the kubectl layer here support. */
export const KUBERNETES_VERSIONS = ['1.34'] as const;

type Raw = Record<string, unknown>;

/** Reads fields of one object, collecting problems under their dotted paths. */
class Reader {
  private readonly raw: Raw;
  private readonly path: string;
  private readonly problems: string[];
  constructor(raw: Raw, path: string, problems: string[]) {
    this.raw = raw;
    this.path = path;
    this.problems = problems;
  }

  private at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  private value(key: string, kind: string, optional: boolean): unknown {
    const v = this.raw[key];
    if (v === undefined && !optional) this.problems.push(`${this.at(key)}: required (${kind})`);
    return v;
  }

  string(key: string, pattern: RegExp, what: string, optional = false): string {
    const v = this.value(key, what, optional);
    if (v === undefined) return '';
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.problems.push(`${this.at(key)}: ${JSON.stringify(v)} is not ${what}`);
      return '';
    }
    return v;
  }

  oneOf(key: string, allowed: readonly string[]): string {
    const v = this.value(key, `one of ${allowed.join(', ')}`, false);
    if (v === undefined) return '';
    if (typeof v !== 'string' || !allowed.includes(v)) {
      this.problems.push(`${this.at(key)}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
      return '';
    }
    return v;
  }

  integer(key: string, min: number, max: number): number {
    const v = this.value(key, `an integer from ${min} to ${max}`, false);
    if (v === undefined) return min;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problems.push(`${this.at(key)}: ${JSON.stringify(v)} is not an integer from ${min} to ${max}`);
      return min;
    }
    return v;
  }

  strings(key: string, pattern: RegExp, what: string, min: number): string[] {
    const v = this.value(key, `a list of ${what}`, false);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.length < min || !v.every((e) => typeof e === 'string' && pattern.test(e))) {
      this.problems.push(`${this.at(key)}: ${JSON.stringify(v)} is not a list of at least ${min} ${what}`);
      return [];
    }
    return v as string[];
  }

  object(key: string): Reader {
    const v = this.value(key, 'an object', false);
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) {
      this.problems.push(`${this.at(key)}: ${JSON.stringify(v)} is not an object`);
    }
    const inner = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {};
    return new Reader(inner, this.at(key), this.problems);
  }

  /** Fields this reader was not asked about: a typo should not be silently ignored. */
  unknown(known: readonly string[]): void {
    for (const key of Object.keys(this.raw)) if (!known.includes(key)) this.problems.push(`${this.at(key)}: unknown field`);
  }
}

function cluster(r: Reader): ClusterConfig {
  r.unknown(['name', 'weight']);
  return { name: r.string('name', LABEL, 'a DNS label (lower-case letters, digits, dashes)'), weight: r.integer('weight', 0, 255) };
}

/** The configuration in `raw`, or a ConfigError listing every field that is wrong. */
export function parseConfig(raw: unknown, source = 'config'): InfraConfig {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(source, ['(root): not a JSON object']);
  const r = new Reader(raw as Raw, '', problems);
  r.unknown([
    'account',
    'region',
    'domain',
    'hostedZoneId',
    'recordName',
    'reservation',
    'auth',
    'operator',
    'images',
    'vpc',
    'kubernetesVersion',
    'nodes',
    'database',
    'redis',
    'queue',
    'blue',
    'green',
  ]);
  const reservation = r.object('reservation');
  const auth = r.object('auth');
  const operator = r.object('operator');
  const images = r.object('images');
  const vpc = r.object('vpc');
  const nodes = r.object('nodes');
  const database = r.object('database');
  const redis = r.object('redis');
  const queue = r.object('queue');
  reservation.unknown(['name', 'namespace']);
  auth.unknown(['issuer', 'audience', 'jwksUrl']);
  const jwksUrl = auth.string('jwksUrl', HTTPS_URL, 'an https URL', true);
  operator.unknown(['namespace', 'serviceAccount']);
  images.unknown(['repository', 'version']);
  vpc.unknown(['cidr', 'availabilityZones', 'natGateways']);
  nodes.unknown(['instanceType', 'min', 'desired', 'max']);
  database.unknown(['instanceClass', 'readers', 'name', 'backupRetentionDays', 'maxConnections']);
  redis.unknown(['nodeType', 'replicas']);
  queue.unknown(['name', 'maxReceiveCount', 'visibilityTimeoutSeconds']);
  const hostedZoneId = r.string('hostedZoneId', /^Z[A-Z0-9]{1,32}$/, 'a Route53 hosted zone id (Z...)', true);
  const config: InfraConfig = {
    account: r.string('account', /^\d{12}$/, 'a 12-digit AWS account id'),
    region: r.string('region', /^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1'),
    domain: r.string('domain', DNS_NAME, 'a lower-case DNS name'),
    ...(hostedZoneId ? { hostedZoneId } : {}),
    recordName: r.string('recordName', LABEL, 'a DNS label'),
    reservation: {
      name: reservation.string('name', LABEL, 'a DNS label'),
      namespace: reservation.string('namespace', LABEL, 'a DNS label'),
    },
    auth: {
      issuer: auth.string('issuer', /^\S{1,512}$/, "the identity provider's iss, e.g. https://idp.example.com/"),
      audience: auth.string('audience', /^\S{1,256}$/, 'the aud tokens for these APIs carry'),
      ...(jwksUrl ? { jwksUrl } : {}),
    },
    operator: {
      namespace: operator.string('namespace', LABEL, 'a DNS label'),
      serviceAccount: operator.string('serviceAccount', LABEL, 'a DNS label'),
    },
    images: {
      repository: images.string('repository', /^[a-z0-9][-a-z0-9.]*(:\d+)?(\/[a-z0-9][-a-z0-9._]*)*$/, 'an image repository'),
      version: images.string('version', /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'an image tag'),
    },
    vpc: {
      cidr: vpc.string('cidr', /^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'an IPv4 CIDR from /16 to /24'),
      availabilityZones: vpc.strings('availabilityZones', /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'availability zones such as eu-west-1a', 2),
      natGateways: vpc.integer('natGateways', 1, 6),
    },
    kubernetesVersion: r.oneOf('kubernetesVersion', KUBERNETES_VERSIONS),
    nodes: {
      instanceType: nodes.string('instanceType', /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'an EC2 instance type such as m7i.large'),
      min: nodes.integer('min', 1, 100),
      desired: nodes.integer('desired', 1, 100),
      max: nodes.integer('max', 1, 100),
    },
    database: {
      instanceClass: database.string('instanceClass', /^db\.[a-z0-9]+\.[a-z0-9]+$/, 'an RDS instance class such as db.r7g.large'),
      readers: database.integer('readers', 1, 15),
      name: database.string('name', /^[a-z][a-z0-9_]{0,63}$/, 'a MySQL database name'),
      backupRetentionDays: database.integer('backupRetentionDays', 1, 35),
      maxConnections: database.integer('maxConnections', 1, 100_000),
    },
    redis: {
      nodeType: redis.string('nodeType', /^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'an ElastiCache node type such as cache.t4g.small'),
      replicas: redis.integer('replicas', 1, 5),
    },
    queue: {
      name: queue.string('name', /^[A-Za-z0-9_-]{1,70}$/, 'a queue name without .fifo'),
      maxReceiveCount: queue.integer('maxReceiveCount', 1, 1000),
      visibilityTimeoutSeconds: queue.integer('visibilityTimeoutSeconds', 0, 43_200),
    },
    blue: cluster(r.object('blue')),
    green: cluster(r.object('green')),
  };
  if (config.nodes.min > config.nodes.desired || config.nodes.desired > config.nodes.max) {
    problems.push(`nodes: min (${config.nodes.min}) <= desired (${config.nodes.desired}) <= max (${config.nodes.max}) does not hold`);
  }
  const zones = config.vpc.availabilityZones;
  if (config.vpc.natGateways > zones.length && zones.length > 0) {
    problems.push(`vpc.natGateways: ${config.vpc.natGateways} is more than the ${zones.length} availability zones`);
  }
  const foreign = zones.filter((z) => config.region && !z.startsWith(config.region));
  if (foreign.length > 0) problems.push(`vpc.availabilityZones: ${foreign.join(', ')} not in ${config.region}`);
  if (new Set(zones).size !== zones.length) problems.push('vpc.availabilityZones: a zone is listed twice');
  if (config.blue.name && config.blue.name === config.green.name) problems.push(`green.name: the same as blue.name (${config.blue.name})`);
  if (config.blue.weight + config.green.weight === 0) problems.push('blue.weight, green.weight: one cluster must start with traffic');
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

/** Reads and checks a JSON configuration file; a syntax error names the file. */
export function loadConfig(path: string): InfraConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, [`(root): not readable JSON (${(err as Error).message})`]);
  }
  return parseConfig(raw, path);
}

/** The weighted record's name, e.g. api.reservations.example.com. */
export const recordFqdn = (config: InfraConfig) => `${config.recordName}.${config.domain}`;

/** A cluster's own public hostname (its edge), e.g. api.eks-blue.reservations.example.com. */
export const edgeHost = (config: InfraConfig, cluster: ClusterConfig) => `${config.recordName}.${cluster.name}.${config.domain}`;
