import { join } from 'node:path';
import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import { objectName } from '@reservations/operator/desired';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { type ClusterConfig, edgeHost, type InfraConfig, recordFqdn } from './config.ts';
import type { DataStack } from './data-stack.ts';
import { notifierSqsStatements, operatorRoute53Statements, queueKeyStatement, relaySqsStatements } from './policies.ts';
import { operatorValues, platformValues } from './values.ts';

/**
 * The repository's charts, packaged as assets at synthesis. A path to data (chart files), not
 * an import: nothing in them is code this workspace loads.
 */
export const CHARTS_DIR = join(import.meta.dirname, '..', '..', 'charts');

export interface ClusterStackProps extends StackProps {
  config: InfraConfig;
  cluster: ClusterConfig;
  vpc: ec2.IVpc;
  data: DataStack;
  zone: route53.IHostedZone;
}

/** A role that EKS Pod Identity hands to one ServiceAccount's pods. */
function podIdentityRole(
  scope: Construct,
  id: string,
  cluster: eks.Cluster,
  serviceAccount: { namespace: string; name: string },
  description: string,
): iam.Role {
  const role = new iam.Role(scope, id, {
    description,
    assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
  });
  new eks.CfnPodIdentityAssociation(scope, `${id}Association`, {
    clusterName: cluster.clusterName,
    namespace: serviceAccount.namespace,
    serviceAccount: serviceAccount.name,
    roleArn: role.roleArn,
  });
  return role;
}

/**
 * One EKS cluster (CDK allows one per stack) with its managed node group, the AWS Load Balancer
 * Controller, the Pod Identity agent, the operator's role and a role per service that calls AWS, and the two charts:
 * the operator, then the platform's Reservation at this cluster's starting weight.
 */
export class ClusterStack extends Stack {
  readonly cluster: eks.Cluster;
  readonly operatorRole: iam.Role;
  /** reservation-api's (its outbox relay sends to the events queue). */
  readonly reservationApiRole: iam.Role;
  /** The notifier's (it consumes the events queue). */
  readonly notifierRole: iam.Role;

  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id, props);
    const { config, data, zone, vpc } = props;
    const nodes = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Encrypts the Kubernetes Secrets of ${props.cluster.name}`,
      enableKeyRotation: true,
    });
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: props.cluster.name,
      version: eks.KubernetesVersion.of(config.kubernetesVersion),
      vpc,
      vpcSubnets: [nodes],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      secretsEncryptionKey: secretsKey,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      kubectlProviderOptions: { kubectlLayer: new KubectlV34Layer(this, 'Kubectl') },
      albController: { version: eks.AlbControllerVersion.V2_17_1 },
    });
    this.cluster.addNodegroupCapacity('Nodes', {
      instanceTypes: [new ec2.InstanceType(config.nodes.instanceType)],
      minSize: config.nodes.min,
      desiredSize: config.nodes.desired,
      maxSize: config.nodes.max,
      subnets: nodes,
    });
    const podIdentityAgent = new eks.Addon(this, 'PodIdentityAgent', { cluster: this.cluster, addonName: 'eks-pod-identity-agent' });

    // The nodes (the cluster security group) may reach RDS Proxy and Redis, and nothing else of the data stack.
    const nodesGroup = this.cluster.clusterSecurityGroup;
    new ec2.CfnSecurityGroupIngress(this, 'NodesToDatabase', {
      groupId: data.databaseClients.securityGroupId,
      sourceSecurityGroupId: nodesGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 3306,
      toPort: 3306,
      description: `${props.cluster.name} nodes to RDS Proxy`,
    });
    new ec2.CfnSecurityGroupIngress(this, 'NodesToRedis', {
      groupId: data.redisClients.securityGroupId,
      sourceSecurityGroupId: nodesGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 6379,
      toPort: 6379,
      description: `${props.cluster.name} nodes to Redis`,
    });

    this.operatorRole = podIdentityRole(
      this,
      'OperatorRole',
      this.cluster,
      { namespace: config.operator.namespace, name: config.operator.serviceAccount },
      `The reservation operator on ${props.cluster.name}: its weighted record in the hosted zone`,
    );
    for (const s of operatorRoute53Statements(zone.hostedZoneArn, recordFqdn(config))) this.operatorRole.addToPolicy(s);
    // Each service runs as its own ServiceAccount (named by the operator's naming), with only its own calls.
    const queues = { queue: data.queue.queueArn, deadLetterQueue: data.deadLetterQueue.queueArn };
    const reservation = { metadata: { name: config.reservation.name } };
    this.reservationApiRole = podIdentityRole(
      this,
      'ReservationApiRole',
      this.cluster,
      { namespace: config.reservation.namespace, name: objectName(reservation, 'reservationApi') },
      `reservation-api on ${props.cluster.name}: its outbox relay sends to the events queue`,
    );
    for (const s of relaySqsStatements(queues)) this.reservationApiRole.addToPolicy(s);
    this.reservationApiRole.addToPolicy(queueKeyStatement(data.key.keyArn, 'send'));
    this.notifierRole = podIdentityRole(
      this,
      'NotifierRole',
      this.cluster,
      { namespace: config.reservation.namespace, name: objectName(reservation, 'notifier') },
      `The notifier on ${props.cluster.name}: it consumes the events queue`,
    );
    for (const s of notifierSqsStatements(queues)) this.notifierRole.addToPolicy(s);
    this.notifierRole.addToPolicy(queueKeyStatement(data.key.keyArn, 'receive'));

    const certificate = new acm.Certificate(this, 'EdgeCertificate', {
      domainName: edgeHost(config, props.cluster),
      subjectAlternativeNames: [recordFqdn(config)],
      validation: acm.CertificateValidation.fromDns(zone),
    });

    const operatorChart = this.cluster.addHelmChart('OperatorChart', {
      chartAsset: new Asset(this, 'OperatorChartAsset', { path: join(CHARTS_DIR, 'reservation-operator') }),
      release: 'reservation-operator',
      namespace: config.operator.namespace,
      createNamespace: true,
      values: operatorValues(config),
      wait: true,
    });
    operatorChart.node.addDependency(podIdentityAgent);
    const platformChart = this.cluster.addHelmChart('PlatformChart', {
      chartAsset: new Asset(this, 'PlatformChartAsset', { path: join(CHARTS_DIR, 'reservation-platform') }),
      release: config.reservation.name,
      namespace: config.reservation.namespace,
      createNamespace: true,
      values: platformValues(config, props.cluster, {
        queueUrl: data.queue.queueUrl,
        deadLetterQueueUrl: data.deadLetterQueue.queueUrl,
        hostedZoneId: zone.hostedZoneId,
        certificateArn: certificate.certificateArn,
      }),
    });
    // The Reservation CRD comes with the operator chart; the Ingress needs the load balancer controller.
    platformChart.node.addDependency(operatorChart);
    if (this.cluster.albController) platformChart.node.addDependency(this.cluster.albController);

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'OperatorRoleArn', { value: this.operatorRole.roleArn });
    new CfnOutput(this, 'ReservationApiRoleArn', { value: this.reservationApiRole.roleArn });
    new CfnOutput(this, 'NotifierRoleArn', { value: this.notifierRole.roleArn });
    new CfnOutput(this, 'EdgeHost', { value: edgeHost(config, props.cluster) });
  }
}
