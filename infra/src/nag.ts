import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { PlatformApp } from './app.ts';
import type { ClusterStack } from './cluster-stack.ts';

/**
 * Every cdk-nag (AwsSolutions) finding this design accepts, on the narrowest construct that
 * raises it, each with its reason. Anything else fails `cdk synth`.
 *
 * A granular rule (IAM4, IAM5) reports one finding per policy or resource, e.g.
 * `AwsSolutions-IAM5[Resource::*]`. Named with its finding, one finding is accepted; named
 * without (`AwsSolutions-IAM5`), every finding of that rule under the scope is, which is only
 * done for constructs that aws-cdk-lib or AWS write (the kubectl provider, the load balancer
 * controller, the managed node group), whose findings carry generated names.
 */

export interface Acknowledgement {
  scope: IConstruct;
  /**
   * cdk-nag's rule id, optionally with the finding, e.g. AwsSolutions-IAM5[Resource::*]; another
   * validation plugin's rule with its namespace, e.g. CloudFormation-Validate::W9009.
   */
  rule: string;
  reason: string;
}

const acknowledge = (scope: IConstruct, rule: string, reason: string): Acknowledgement => ({ scope, rule, reason });

/** The construct at `path` (ids joined by `/`) under `scope`; an error names the missing step. */
export function child(scope: IConstruct, path: string): IConstruct {
  let node = scope;
  for (const id of path.split('/')) {
    const next = node.node.tryFindChild(id);
    if (!next) throw new Error(`nag: ${node.node.path} has no child ${id}`);
    node = next;
  }
  return node;
}

function clusterAcknowledgements(stack: ClusterStack): Acknowledgement[] {
  const cluster = stack.cluster;
  const kubectl = child(cluster, 'KubectlProvider');
  const alb = cluster.albController;
  if (!alb) throw new Error(`nag: ${cluster.node.path} has no load balancer controller`);
  const nodegroupRole = child(cluster, 'NodegroupNodes/NodeGroupRole');
  const operatorPolicy = child(stack.operatorRole, 'DefaultPolicy');
  return [
    acknowledge(
      child(cluster, 'Role'),
      'AwsSolutions-IAM4',
      'EKS requires the AWS managed AmazonEKSClusterPolicy on the cluster role; AWS keeps it in step with the control plane.',
    ),
    acknowledge(
      nodegroupRole,
      'AwsSolutions-IAM4',
      'A managed node group needs AmazonEKSWorkerNodePolicy, AmazonEC2ContainerRegistryReadOnly and AmazonEKS_CNI_Policy (AWS managed, as EKS documents).',
    ),
    acknowledge(
      kubectl,
      'AwsSolutions-IAM4',
      "aws-cdk-lib's kubectl provider (it installs the charts): its Lambda functions use AWS managed execution policies for logs and VPC access.",
    ),
    acknowledge(
      kubectl,
      'AwsSolutions-IAM5',
      "aws-cdk-lib's kubectl provider reads the chart assets from the CDK bootstrap bucket and invokes its own handler's versions; CDK writes that policy.",
    ),
    acknowledge(kubectl, 'AwsSolutions-L1', "aws-cdk-lib's kubectl provider pins the Lambda runtime its handler is built and tested for."),
    acknowledge(
      cluster,
      'CloudFormation-Validate::W9009',
      "aws-cdk-lib's EKS cluster names what its key encrypts (secrets) in EncryptionConfig.Resources; EKS still takes it, only the schema marks it deprecated.",
    ),
    acknowledge(
      alb,
      'AwsSolutions-IAM5',
      'The AWS Load Balancer Controller policy as AWS publishes it: load balancers, target groups and security groups it creates have names not known in advance, and it scopes its writes by the elbv2.k8s.aws/cluster tag instead.',
    ),
    acknowledge(
      operatorPolicy,
      'AwsSolutions-IAM5[Resource::arn:aws:route53:::change/*]',
      'route53:GetChange takes a change id that Route53 returns with each change, so no policy can name it in advance; it reads a change status only.',
    ),
  ];
}

export function acknowledgements(platform: PlatformApp): Acknowledgement[] {
  const database = child(platform.data, 'Database');
  return [
    ...['Sqs', 'EcrApi', 'EcrDocker', 'Sts'].map((endpoint) =>
      acknowledge(
        child(platform.network.vpc, `${endpoint}/SecurityGroup`),
        'AwsSolutions-EC23',
        'An interface endpoint security group lets in HTTPS from the VPC CIDR only (CDK default); cdk-nag cannot resolve the CIDR token and reports it.',
      ),
    ),
    acknowledge(
      database,
      'AwsSolutions-RDS6',
      'The services connect with the password in their MySQL URL through RDS Proxy (TLS required); IAM database tokens would need a signer in every pool.',
    ),
    acknowledge(
      database,
      'AwsSolutions-RDS11',
      'Port 3306: only RDS Proxy reaches the cluster (its own security group), so another port would hide nothing.',
    ),
    acknowledge(
      database,
      'AwsSolutions-RDS14',
      'No Backtrack: rewinding the writer would also rewind the outbox of events already delivered through SQS; recovery is point-in-time restore from backups.',
    ),
    acknowledge(
      child(platform.data, 'Redis'),
      'AwsSolutions-AEC5',
      'Port 6379: only the clusters nodes reach it (its own security group), TLS and AUTH are on; another port would hide nothing.',
    ),
    ...[
      'Database/Secret',
      'RedisAuth',
      'BookingSigningKey',
      'WebhookSecretKey',
      'Backends',
      'Migrator',
      ...Object.values(platform.data.databaseCredentials).map((s) => s.node.id),
      ...Object.values(platform.data.databaseUrls).map((s) => s.node.id),
    ].map((path) =>
      acknowledge(
        child(platform.data, path),
        'AwsSolutions-SMG4',
        'Not rotated automatically yet: the services read their URLs at start, so a rotation needs the Kubernetes Secret refreshed and a rollout, which this app does not automate.',
      ),
    ),
    ...clusterAcknowledgements(platform.blue),
    ...clusterAcknowledgements(platform.green),
  ];
}

const GRANULAR = new Set(['AwsSolutions-IAM4', 'AwsSolutions-IAM5']);

/** The finding ids of a granular rule under a scope, as cdk-nag reports them. */
function findings(scope: IConstruct, rule: string): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return [...new Set(report.violations.map((v) => v.ruleName).filter((name) => name.startsWith(`${rule}[`)))];
}

export function suppressJustifiedFindings(platform: PlatformApp): void {
  for (const a of acknowledgements(platform)) {
    const ids = GRANULAR.has(a.rule) ? findings(a.scope, a.rule) : [a.rule];
    for (const id of ids) Validations.of(a.scope).acknowledge({ id: id.includes('::') ? id : `AwsSolutions::${id}`, reason: a.reason });
  }
}
