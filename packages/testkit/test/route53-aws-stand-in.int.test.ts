import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { waitUntil } from '../src/poll.ts';
import { calledBy, createZone, listRecords, type Route53AwsStandIn, type SeenRecordSet, startRoute53AwsStandIn } from '../src/route53.ts';
import { parseChangeBatch } from '../src/route53-aws-behaviour.ts';

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

  it("gives every change its own id (moto gives all one), so one caller's change does not answer for another's", async () => {
    const own = (name: string, w: Change) =>
      ({ ...w, ResourceRecordSet: { ...w.ResourceRecordSet, Name: `${name}.${zone.name}.` } }) as Change;
    try {
      front.set({ insyncDelayMs: { min: 500, max: 500 } });
      const quick = await change(sdk, own('quick', weighted('eks-blue', 1)));
      front.set({ insyncDelayMs: { min: 60_000, max: 60_000 } });
      const slow = await change(sdk, own('slow', weighted('eks-blue', 1)));
      expect(quick.ChangeInfo?.Id).toMatch(/^\/change\/C[A-Z0-9]{13}$/);
      expect(slow.ChangeInfo?.Id).not.toBe(quick.ChangeInfo?.Id);
      const status = async (id?: string) => (await sdk.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status;
      await waitUntil('the quick change INSYNC', async () => (await status(quick.ChangeInfo?.Id)) === 'INSYNC');
      expect(await status(slow.ChangeInfo?.Id)).toBe('PENDING');
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

  it("tells its callers apart by their SDK's app id, and reads a zone between batches", async () => {
    const blue = new Route53Client({ endpoint: front.url, maxAttempts: 1, userAgentAppId: 'blue-operator' });
    try {
      const before = front.calls.length;
      await blue.send(new ListHostedZonesCommand({}));
      await sdk.send(new ListHostedZonesCommand({}));
      const [fromBlue, fromOther] = front.calls.slice(before);
      expect(fromBlue && calledBy(fromBlue, 'blue-operator')).toBe(true);
      expect(fromOther && calledBy(fromOther, 'blue-operator')).toBe(false);
      expect(fromOther?.userAgent).toMatch(/aws-sdk-js/);
      // A read asked once a batch has reached the stand-in sees the zone after it, whole (moto may not have applied it yet).
      const sent = front.calls.length;
      // Its own name: the other tests' weights on api stay as they left them.
      const who = (w: Change) => ({ ...w, ResourceRecordSet: { ...w.ResourceRecordSet, Name: `who.${zone.name}.` } }) as Change;
      const changed = change(blue, who(weighted('eks-blue', 70)), who(weighted('eks-green', 30)));
      await waitUntil('the batch reached the stand-in', () => front.calls.slice(sent).some((c) => c.method === 'POST'), { intervalMs: 5 });
      const records = await front.records(zone.id);
      await changed;
      expect(records.filter((r) => r.name === `who.${zone.name}`).map((r) => [r.setIdentifier, r.weight])).toEqual([
        ['eks-blue', 70],
        ['eks-green', 30],
      ]);
    } finally {
      blue.destroy();
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

describe("the Route53 stand-in applies Route53's record-set semantics over moto", () => {
  // A zone per test: each starts from records it wrote itself.
  let own: { id: string; name: string };
  beforeEach(async () => {
    own = await createZone(sdk);
  });

  const set = (
    action: Change['Action'],
    name: string,
    setIdentifier: string | undefined,
    value: string,
    more: { weight?: number; type?: 'CNAME' | 'TXT' } = {},
  ): Change => ({
    Action: action,
    ResourceRecordSet: {
      Name: `${name}.${own.name}.`,
      Type: more.type ?? 'CNAME',
      ...(setIdentifier !== undefined ? { SetIdentifier: setIdentifier, Weight: more.weight ?? 100 } : {}),
      TTL: 60,
      ResourceRecords: [{ Value: value }],
    },
  });
  const changeOwn = (...changes: Change[]) =>
    sdk.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: own.id, ChangeBatch: { Changes: changes } }));
  /** The zone's record sets as `name type set-identifier weight value`, sorted: what a user listing it sees. */
  const listed = async () =>
    (await listRecords(sdk, own.id))
      .map(
        (r: SeenRecordSet) =>
          `${r.name.replace(`.${own.name}`, '')} ${r.type} ${r.setIdentifier ?? '-'} ${r.weight ?? '-'} ${r.values.join(',')}`,
      )
      .sort();

  it('deletes only the record set named by name, type and set identifier: another name with the same set identifier stays', async () => {
    await changeOwn(
      set('CREATE', 'api', 'eks-blue', 'blue.elb.example.com'),
      set('CREATE', 'cname-api', 'eks-blue', '"owner=blue"', { type: 'TXT' }),
      set('CREATE', 'web', 'eks-blue', 'web-blue.elb.example.com'),
    );
    const at = front.calls.length;
    await changeOwn(set('DELETE', 'api', 'eks-blue', 'blue.elb.example.com'));
    expect(await listed()).toEqual(['cname-api TXT eks-blue 100 "owner=blue"', 'web CNAME eks-blue 100 web-blue.elb.example.com']);
    // What the stand-in records is the caller's batch, not what it sent moto.
    expect(parseChangeBatch(front.calls[at]?.body ?? '').map((c) => `${c.action} ${c.key.name}`)).toEqual([`DELETE api.${own.name}`]);
  });

  it('rewrites one name as DELETE then CREATE, and a change before a DELETE to another name with its set identifier stands', async () => {
    await changeOwn(set('CREATE', 'api', 'eks-blue', 'old.elb.example.com'), set('CREATE', 'web', 'eks-blue', 'web-old.elb.example.com'));
    await changeOwn(
      set('DELETE', 'api', 'eks-blue', 'old.elb.example.com'),
      set('CREATE', 'api', 'eks-blue', 'new.elb.example.com', { weight: 40 }),
    );
    expect(await listed()).toEqual(['api CNAME eks-blue 40 new.elb.example.com', 'web CNAME eks-blue 100 web-old.elb.example.com']);

    // moto would apply the UPSERT, then take it with the DELETE of another name: Route53 keeps it.
    await changeOwn(
      set('UPSERT', 'web', 'eks-blue', 'web-new.elb.example.com'),
      set('DELETE', 'api', 'eks-blue', 'new.elb.example.com', { weight: 40 }),
    );
    expect(await listed()).toEqual(['web CNAME eks-blue 100 web-new.elb.example.com']);
  });

  it('creates again a record set identical to one deleted since, whatever sorts after it', async () => {
    await changeOwn(set('CREATE', 'web', undefined, 'web.elb.example.com'), set('CREATE', 'www', undefined, 'www.elb.example.com'));
    await changeOwn(set('DELETE', 'web', undefined, 'web.elb.example.com'));
    expect(await failure(changeOwn(set('CREATE', 'web', undefined, 'web.elb.example.com')))).toBe('');
    expect(await listed()).toEqual(['web CNAME - - web.elb.example.com', 'www CNAME - - www.elb.example.com']);
  });

  it('takes a DELETE that names the record set in other letter case and gives its values in another order, as Route53 does', async () => {
    await changeOwn({
      Action: 'CREATE',
      ResourceRecordSet: { Name: `Mixed.${own.name}.`, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"a"' }, { Value: '"b"' }] },
    });
    expect(await listed()).toEqual(['mixed TXT - - "a","b"']);
    expect(
      await failure(
        changeOwn({
          Action: 'DELETE',
          ResourceRecordSet: { Name: `mixed.${own.name}.`, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"b"' }, { Value: '"a"' }] },
        }),
      ),
    ).toBe('');
    expect(await listed()).toEqual([]);
  });

  it("refuses a DELETE whose weight is not the current one with Route53's message, and writes nothing of the batch", async () => {
    await changeOwn(set('CREATE', 'api', 'eks-blue', 'blue.elb.example.com', { weight: 100 }));
    const before = await listed();
    expect(
      await failure(
        changeOwn(
          set('CREATE', 'api', 'eks-green', 'green.elb.example.com', { weight: 0 }),
          set('DELETE', 'api', 'eks-blue', 'blue.elb.example.com', { weight: 50 }),
        ),
      ),
    ).toBe(
      `InvalidChangeBatch: [Tried to delete resource record set [name='api.${own.name}.', type='CNAME', set-identifier='eks-blue'] but the values provided do not match the current values]`,
    );
    expect(front.calls.at(-1)?.refused).toBe('InvalidChangeBatch');
    expect(await listed()).toEqual(before);
  });

  it('refuses a CREATE of a record set that exists and a DELETE of one that does not, naming both, and writes nothing', async () => {
    await changeOwn(set('CREATE', 'api', 'eks-blue', 'blue.elb.example.com'));
    const before = await listed();
    expect(
      await failure(
        changeOwn(
          set('UPSERT', 'web', 'eks-blue', 'web.elb.example.com'),
          set('CREATE', 'api', 'eks-blue', 'blue.elb.example.com'),
          set('DELETE', 'api', 'eks-green', 'green.elb.example.com'),
        ),
      ),
    ).toBe(
      `InvalidChangeBatch: [Tried to create resource record set [name='api.${own.name}.', type='CNAME', set-identifier='eks-blue'] but it already exists, ` +
        `Tried to delete resource record set [name='api.${own.name}.', type='CNAME', set-identifier='eks-green'] but it was not found]`,
    );
    expect(await listed()).toEqual(before);
  });
});
