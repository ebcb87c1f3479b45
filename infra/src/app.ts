import { App, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ClusterStack } from './cluster-stack.ts';
import type { InfraConfig } from './config.ts';
import { DataStack } from './data-stack.ts';
import { DnsStack } from './dns-stack.ts';
import { suppressJustifiedFindings } from './nag.ts';
import { NetworkStack } from './network-stack.ts';

export interface PlatformApp {
  app: App;
  network: NetworkStack;
  data: DataStack;
  dns: DnsStack;
  blue: ClusterStack;
  green: ClusterStack;
}

/**
 * The whole platform: network, data, dns and one stack per cluster, checked by cdk-nag's
 * AwsSolutions pack. The account and region are explicit, so synthesis needs no credentials.
 */
export function buildApp(config: InfraConfig, outdir?: string): PlatformApp {
  const app = new App({
    ...(outdir ? { outdir } : {}),
    context: {
      // The zones as configured, where CDK would otherwise look them up with AWS credentials.
      [`availability-zones:account=${config.account}:region=${config.region}`]: config.vpc.availabilityZones,
      // The stacks reference each other through exports (CloudFormation's strong references).
      '@aws-cdk/core:defaultCrossStackReferences': 'strong',
    },
  });
  const env: Environment = { account: config.account, region: config.region };
  const network = new NetworkStack(app, 'reservations-network', config, {
    env,
    description: 'Reservation platform: the VPC and its endpoints',
  });
  const data = new DataStack(app, 'reservations-data', config, network.vpc, {
    env,
    description: 'Reservation platform: Aurora MySQL, RDS Proxy, Redis, the events queues, secrets',
  });
  const dns = new DnsStack(app, 'reservations-dns', config, { env, description: 'Reservation platform: the hosted zone' });
  const cluster = (color: 'blue' | 'green') =>
    new ClusterStack(app, `reservations-cluster-${color}`, {
      env,
      description: `Reservation platform: the ${color} EKS cluster and its charts`,
      config,
      cluster: config[color],
      vpc: network.vpc,
      data,
      zone: dns.zone,
    });
  const platform = { app, network, data, dns, blue: cluster('blue'), green: cluster('green') };
  Tags.of(app).add('app', 'reservation-platform');
  suppressJustifiedFindings(platform);
  checkWithNag(app);
  return platform;
}

/** cdk-nag's AwsSolutions pack on every stack of `app`: a finding not acknowledged fails `synth()`. */
export function checkWithNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
