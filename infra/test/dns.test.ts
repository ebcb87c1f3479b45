import { describe, expect, it } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../src/config.ts';
import { DnsStack } from '../src/dns-stack.ts';
import { EXAMPLE_CONFIG } from './support/platform.ts';

const env = { account: '123456789012', region: 'eu-west-1' };

describe('the dns stack', () => {
  it('creates the hosted zone of the domain when no zone id is configured', () => {
    const stack = new DnsStack(new App(), 'dns', loadConfig(EXAMPLE_CONFIG), { env });
    Template.fromStack(stack).resourcePropertiesCountIs('AWS::Route53::HostedZone', { Name: 'reservations.example.com.' }, 1);
  }, 120_000);

  it('uses an existing zone by its id, creating none', () => {
    const config = { ...loadConfig(EXAMPLE_CONFIG), hostedZoneId: 'Z0123456789ABCDEFGHIJ' };
    const stack = new DnsStack(new App(), 'dns', config, { env });
    Template.fromStack(stack).resourceCountIs('AWS::Route53::HostedZone', 0);
    expect(stack.zone.hostedZoneId).toBe('Z0123456789ABCDEFGHIJ');
    expect(stack.resolve(stack.zone.hostedZoneArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/Z0123456789ABCDEFGHIJ']],
    });
  }, 120_000);
});
