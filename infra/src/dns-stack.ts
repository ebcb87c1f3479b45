import { CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config.ts';

/** The hosted zone of the platform's domain: created here, or an existing one by its id. */
export class DnsStack extends Stack {
  readonly zone: route53.IHostedZone;

  constructor(scope: Construct, id: string, config: InfraConfig, props: StackProps) {
    super(scope, id, props);
    this.zone = config.hostedZoneId
      ? route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: config.hostedZoneId, zoneName: config.domain })
      : new route53.PublicHostedZone(this, 'Zone', { zoneName: config.domain });
    new CfnOutput(this, 'HostedZoneId', { value: this.zone.hostedZoneId });
    if (this.zone instanceof route53.PublicHostedZone && this.zone.hostedZoneNameServers) {
      new CfnOutput(this, 'NameServers', { value: Fn.join(', ', this.zone.hostedZoneNameServers) });
    }
  }
}
