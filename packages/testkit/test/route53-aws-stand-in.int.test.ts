import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '../src/poll.ts';
import { createZone, listRecords, type Route53AwsStandIn, startRoute53AwsStandIn } from '../src/route53.ts';

/**
 * The Route53 stand-in (AWS's behaviour as a front on the harness's moto), through the real AWS
 * SDK as the operator calls it: with the SDK's retries off (maxAttempts 1) unless a test says so.
 */

let front: Route53AwsStandIn;
let sdk: Route53Client;
let zone: { id: string; name: string };

const weighted = (setIdentifier: string, weight: number): Change => ({
  Action: 'UPSERT',
  ResourceRecordSet: {
    Name: `api.${zone.name}.`,
    Type: 'CNAME',
    SetIdentifier: setIdentifier,
    Weight: weight,
    TTL: 60,
    ResourceRecords: [{ Value: `${setIdentifier}.elb.example.com` }],
  },
});
const change = (client: Route53Client, ...changes: Change[]) =>
  client.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zone.id, ChangeBatch: { Changes: changes } }));
const servedWeights = async () =>
  Object.fromEntries((await front.served(zone.id)).filter((r) => r.type === 'CNAME').map((r) => [r.setIdentifier, r.weight]));
/** What the SDK threw, as `name: message` (it resolves to '' when nothing was thrown). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => '',
    (err: Error) => `${err.name}: ${err.message}`,
  );

beforeAll(async () => {
  front = await startRoute53AwsStandIn();
  sdk = new Route53Client({ endpoint: front.url, maxAttempts: 1 });
  zone = await createZone(sdk);
  await change(sdk, weighted('eks-blue', 100), weighted('eks-green', 0));
});
afterAll(async () => {
  sdk?.destroy();
  await front?.close();
});

describe('the Route53 stand-in in front of moto', () => {
  it('keeps a change PENDING for its delay, DNS serving the old weights meanwhile, then INSYNC with the new ones', async () => {
    front.set({ insyncDelayMs: { min: 1500, max: 1500 } });
    try {
      const submitted = await change(sdk, weighted('eks-blue', 60), weighted('eks-green', 40));
      expect(submitted.ChangeInfo?.Status).toBe('PENDING');
      expect((await sdk.send(new GetChangeCommand({ Id: submitted.ChangeInfo?.Id }))).ChangeInfo?.Status).toBe('PENDING');
      // The API lists the new records at once (as AWS's does); DNS does not serve them yet.
      const listed = (await listRecords(sdk, zone.id)).filter((r) => r.type === 'CNAME').map((r) => r.weight);
      expect(listed.sort()).toEqual([40, 60]);
      expect(await servedWeights()).toEqual({ 'eks-blue': 100, 'eks-green': 0 });

      await waitUntil(
        'INSYNC',
        async () => (await sdk.send(new GetChangeCommand({ Id: submitted.ChangeInfo?.Id }))).ChangeInfo?.Status === 'INSYNC',
      );
      expect(await servedWeights()).toEqual({ 'eks-blue': 60, 'eks-green': 40 });
    } finally {
      front.set({ insyncDelayMs: { min: 0, max: 0 } });
    }
  });

  it('refuses a change to a record set whose change is still PENDING with PriorRequestNotComplete, and takes one to another', async () => {
    front.set({ insyncDelayMs: { min: 60_000, max: 60_000 } });
    try {
      await change(sdk, weighted('eks-green', 45));
      expect(await failure(change(sdk, weighted('eks-green', 50)))).toBe(
        'PriorRequestNotComplete: The request was rejected because Route 53 was still processing a prior request.',
      );
      expect(await failure(change(sdk, weighted('eks-blue', 55)))).toBe('');
      expect(front.calls.at(-2)?.refused).toBe('PriorRequestNotComplete');
    } finally {
      front.set({ insyncDelayMs: { min: 0, max: 0 } });
    }
  });

  it('answers Throttling, as Route53 does, past the account rate shared by every client', async () => {
    // A budget of 5 that barely refills: exactly 5 calls get through however slowly this machine sends them.
    front.set({ requestsPerSecond: 0.001, burst: 5 });
    const other = new Route53Client({ endpoint: front.url, maxAttempts: 1 });
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => failure((i % 2 ? other : sdk).send(new ListHostedZonesCommand({})))),
      );
      expect(results.filter((r) => r === '')).toHaveLength(5);
      expect(new Set(results.filter((r) => r !== ''))).toEqual(new Set(['Throttling: Rate exceeded']));
    } finally {
      other.destroy();
      front.set({ requestsPerSecond: Number.POSITIVE_INFINITY });
    }
  });

  it('refuses a batch over 1,000 records with InvalidChangeBatch and changes nothing', async () => {
    const big: Change = {
      Action: 'CREATE',
      ResourceRecordSet: {
        Name: `big.${zone.name}.`,
        Type: 'TXT',
        TTL: 60,
        ResourceRecords: Array.from({ length: 1001 }, (_, i) => ({ Value: `"${i}"` })),
      },
    };
    expect(await failure(change(sdk, big))).toBe('InvalidChangeBatch: Number of records limit of 1000 exceeded.');
    expect((await listRecords(sdk, zone.id)).filter((r) => r.name.startsWith('big.'))).toEqual([]);
  });

  it('fails the next calls with a 5xx on demand: the SDK with its retries off sees it, with its standard retries it does not', async () => {
    front.fail(1, 503);
    expect(await failure(sdk.send(new ListHostedZonesCommand({})))).toMatch(/^ServiceUnavailable: /);
    const retrying = new Route53Client({ endpoint: front.url, maxAttempts: 3 });
    try {
      front.fail(2, 500);
      const before = front.calls.length;
      expect(await failure(retrying.send(new ListHostedZonesCommand({})))).toBe('');
      expect(front.calls.slice(before).map((c) => c.refused ?? 'ok')).toEqual(['InternalFailure', 'InternalFailure', 'ok']);
    } finally {
      retrying.destroy();
    }
  });

  it('answers the next calls late on demand: a caller with a deadline gives up', async () => {
    front.slow(1, 3000);
    expect(await failure(sdk.send(new ListHostedZonesCommand({}), { abortSignal: AbortSignal.timeout(200) }))).toMatch(
      /^(AbortError|TimeoutError)/,
    );
    expect(await failure(sdk.send(new ListHostedZonesCommand({})))).toBe('');
  });
});
