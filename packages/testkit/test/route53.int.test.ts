import { randomUUID } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
} from '@aws-sdk/client-route-53';
import { afterAll, expect, it } from '@jest/globals';
import { testRoute53 } from '../src/aws.ts';

const route53 = testRoute53();
afterAll(() => route53.destroy());

it('upserts two weighted records in one change batch, tracks the change and lists them back', async () => {
  const zoneName = `harness-${randomUUID().slice(0, 8)}.example.com`;
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: randomUUID() }));
  const zoneId = zone.HostedZone?.Id;
  const name = `api.${zoneName}.`;
  const weighted = (setIdentifier: string, weight: number, target: string) => ({
    Action: 'UPSERT' as const,
    ResourceRecordSet: {
      Name: name,
      Type: 'CNAME' as const,
      SetIdentifier: setIdentifier,
      Weight: weight,
      TTL: 30,
      ResourceRecords: [{ Value: target }],
    },
  });
  const change = await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: [weighted('eks-blue', 90, 'blue.elb.example.com'), weighted('eks-green', 10, 'green.elb.example.com')] },
    }),
  );
  const status = await route53.send(new GetChangeCommand({ Id: change.ChangeInfo?.Id }));
  expect(status.ChangeInfo?.Status).toBe('INSYNC');

  const { ResourceRecordSets } = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
  const records = (ResourceRecordSets ?? [])
    .filter((r) => r.Type === 'CNAME')
    .map((r) => ({ name: r.Name, id: r.SetIdentifier, weight: r.Weight, target: r.ResourceRecords?.[0]?.Value }));
  expect(records).toEqual(
    expect.arrayContaining([
      { name, id: 'eks-blue', weight: 90, target: 'blue.elb.example.com' },
      { name, id: 'eks-green', weight: 10, target: 'green.elb.example.com' },
    ]),
  );
  expect(records).toHaveLength(2);
});
