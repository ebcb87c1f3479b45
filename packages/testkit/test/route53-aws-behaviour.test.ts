import { describe, expect, it } from '@jest/globals';
import type { SeenRecordSet } from '../src/route53.ts';
import {
  accountRateLimit,
  type BatchChange,
  batchLimitError,
  changeBatchErrors,
  changeBatchMessage,
  motoChangeBody,
  motoChanges,
  oneAtATime,
  parseChangeBatch,
  pendingChanges,
  type RecordSetValues,
  recordKeyId,
  recordSetXml,
} from '../src/route53-aws-behaviour.ts';

// The body the AWS SDK sends for ChangeResourceRecordSets (abridged to what the stand-in reads).
const BODY = `<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
<ChangeBatch><Changes>
<Change><Action>UPSERT</Action><ResourceRecordSet><Name>API.example.com.</Name><Type>CNAME</Type><SetIdentifier>eks-green</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>green.elb.example.com</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>
<Change><Action>UPSERT</Action><ResourceRecordSet><Name>cname-api.example.com.</Name><Type>TXT</Type><SetIdentifier>eks-green</SetIdentifier><Weight>10</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>"heritage=external-dns"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>
</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`;

const txt = (action: BatchChange['action'], values: number, length = 10): BatchChange => ({
  action,
  key: { name: 'big.example.com', type: 'TXT' },
  values: Array.from({ length: values }, () => 'x'.repeat(length)),
});

describe('parseChangeBatch', () => {
  it('reads each change: its action, its record set (name in lower case without the dot) and its values', () => {
    expect(parseChangeBatch(BODY)).toEqual([
      {
        action: 'UPSERT',
        key: { name: 'api.example.com', type: 'CNAME', setIdentifier: 'eks-green' },
        ttl: 60,
        weight: 10,
        values: ['green.elb.example.com'],
      },
      {
        action: 'UPSERT',
        key: { name: 'cname-api.example.com', type: 'TXT', setIdentifier: 'eks-green' },
        ttl: 60,
        weight: 10,
        values: ['"heritage=external-dns"'],
      },
    ]);
  });

  it("reads character references as the characters they stand for: ExternalDNS's Go SDK writes a TXT value's quotes as &#34;", () => {
    // A DELETE as ExternalDNS sends it: its values must match the zone's to be taken.
    const fromGo = BODY.replace('"heritage=external-dns"', '&#34;heritage=external-dns&#34;').replaceAll('UPSERT', 'DELETE');
    const [, deleted] = parseChangeBatch(fromGo);
    expect(deleted?.values).toEqual(['"heritage=external-dns"']);
    const zone = parseChangeBatch(BODY).map((c): RecordSetValues => ({ ...c.key, ttl: c.ttl, weight: c.weight, values: c.values }));
    expect(changeBatchErrors(parseChangeBatch(fromGo), zone)).toEqual([]);
  });

  it('reads a batch of one change, and a body that is no batch as none', () => {
    const one = BODY.replace(/<Change><Action>UPSERT<\/Action><ResourceRecordSet><Name>cname-.*?<\/Change>/s, '');
    expect(parseChangeBatch(one)).toHaveLength(1);
    expect(parseChangeBatch('<ListResourceRecordSetsRequest/>')).toEqual([]);
  });
});

describe('batchLimitError', () => {
  it('takes 1,000 records and refuses 1,001, an UPSERT counting twice', () => {
    expect(batchLimitError([txt('CREATE', 1000)])).toBeUndefined();
    expect(batchLimitError([txt('CREATE', 1001)])).toBe('Number of records limit of 1000 exceeded.');
    expect(batchLimitError([txt('UPSERT', 500)])).toBeUndefined();
    expect(batchLimitError([txt('UPSERT', 501)])).toBe('Number of records limit of 1000 exceeded.');
  });

  it('takes 32,000 characters of values and refuses one more, an UPSERT counting twice', () => {
    expect(batchLimitError([txt('CREATE', 200, 160)])).toBeUndefined();
    expect(batchLimitError([txt('CREATE', 200, 160), txt('DELETE', 1, 1)])).toBe('Number of characters limit of 32000 exceeded.');
    expect(batchLimitError([txt('UPSERT', 100, 160)])).toBeUndefined();
    expect(batchLimitError([txt('UPSERT', 100, 161)])).toBe('Number of characters limit of 32000 exceeded.');
  });
});

describe('accountRateLimit', () => {
  it('lets a burst through, refuses the next, and refills at the rate', () => {
    let now = 0;
    const limit = accountRateLimit(5, 5, () => now);
    expect(Array.from({ length: 6 }, () => limit.take())).toEqual([true, true, true, true, true, false]);
    now += 199;
    expect(limit.take()).toBe(false);
    now += 1; // 200 ms: one token at 5/s
    expect(limit.take()).toBe(true);
    expect(limit.take()).toBe(false);
    now += 10_000; // never more than the burst
    expect(Array.from({ length: 6 }, () => limit.take()).filter(Boolean)).toHaveLength(5);
  });
});

describe('pendingChanges', () => {
  const record = (setIdentifier: string, weight: number): SeenRecordSet => ({
    name: 'api.example.com',
    type: 'CNAME',
    setIdentifier,
    weight,
    values: [`${setIdentifier}.elb.example.com`],
  });

  it('is PENDING until its time, then INSYNC; unknown ids are not its to answer', () => {
    let now = 0;
    const pending = pendingChanges<SeenRecordSet>(() => now);
    pending.add({ id: 'C1', zoneId: 'Z1', insyncAt: 1000, keys: [recordKeyId(record('eks-green', 0))], before: [] });
    expect(pending.status('C1')).toBe('PENDING');
    expect(pending.status('C2')).toBeUndefined();
    now = 1000;
    expect(pending.status('C1')).toBe('INSYNC');
  });

  it('serves the record sets of a PENDING change as they were, and the change once INSYNC', () => {
    let now = 0;
    const pending = pendingChanges<SeenRecordSet>(() => now);
    const blue = record('eks-blue', 100);
    pending.add({ id: 'C1', zoneId: 'Z1', insyncAt: 1000, keys: [recordKeyId(blue), recordKeyId(record('eks-green', 0))], before: [blue] });
    const current = [record('eks-blue', 50), record('eks-green', 50)];
    expect(pending.served('Z1', current)).toEqual([blue]);
    expect(pending.served('Z2', current)).toEqual(current);
    now = 1000;
    expect(pending.served('Z1', current)).toEqual(current);
  });

  it('finds a conflict with a PENDING change to the same record set in the same zone only', () => {
    let now = 0;
    const pending = pendingChanges<SeenRecordSet>(() => now);
    const green = recordKeyId(record('eks-green', 0));
    pending.add({ id: 'C1', zoneId: 'Z1', insyncAt: 1000, keys: [green], before: [] });
    expect(pending.conflict('Z1', [green])).toBe(true);
    expect(pending.conflict('Z1', [recordKeyId(record('eks-blue', 0))])).toBe(false);
    expect(pending.conflict('Z2', [green])).toBe(false);
    now = 1000;
    expect(pending.conflict('Z1', [green])).toBe(false);
  });
});

// Two names sharing the set identifiers eks-blue and eks-green, as two Reservations in one zone.
const rs = (name: string, setIdentifier: string | undefined, weight: number | undefined, ...values: string[]): RecordSetValues => ({
  name: `${name}.example.com`,
  type: 'CNAME',
  ...(setIdentifier !== undefined ? { setIdentifier } : {}),
  ...(weight !== undefined ? { weight } : {}),
  ttl: 60,
  values,
});
const act = (action: BatchChange['action'], { values, ttl, weight, ...key }: RecordSetValues): BatchChange => ({
  action,
  key,
  ...(ttl !== undefined ? { ttl } : {}),
  ...(weight !== undefined ? { weight } : {}),
  values,
});
const apiBlue = rs('api', 'eks-blue', 100, 'blue.elb');
const apiGreen = rs('api', 'eks-green', 0, 'green.elb');
const webBlue = rs('web', 'eks-blue', 100, 'web-blue.elb');
const ZONE = [apiBlue, apiGreen, webBlue];

describe('changeBatchErrors', () => {
  it('takes a batch that creates what is missing, deletes what is there with its values, and upserts anything', () => {
    expect(
      changeBatchErrors(
        [act('DELETE', apiBlue), act('CREATE', rs('api', 'eks-blue', 60, 'blue.elb')), act('UPSERT', rs('new', 'x', 1, 'y'))],
        ZONE,
      ),
    ).toEqual([]);
    expect(changeBatchErrors([act('CREATE', rs('web', 'eks-green', 0, 'web-green.elb'))], ZONE)).toEqual([]);
  });

  it('refuses a CREATE of a record set that exists, naming it by name, type and set identifier', () => {
    expect(changeBatchErrors([act('CREATE', rs('api', 'eks-blue', 5, 'other.elb'))], ZONE)).toEqual([
      "Tried to create resource record set [name='api.example.com.', type='CNAME', set-identifier='eks-blue'] but it already exists",
    ]);
    expect(changeBatchErrors([act('CREATE', rs('plain', undefined, undefined, 'a'))], [rs('plain', undefined, undefined, 'b')])).toEqual([
      "Tried to create resource record set [name='plain.example.com.', type='CNAME'] but it already exists",
    ]);
  });

  it('refuses a DELETE of a record set that is not there: another set identifier or type is another record set', () => {
    expect(changeBatchErrors([act('DELETE', rs('web', 'eks-green', 100, 'web-blue.elb'))], ZONE)).toEqual([
      "Tried to delete resource record set [name='web.example.com.', type='CNAME', set-identifier='eks-green'] but it was not found",
    ]);
    expect(changeBatchErrors([{ ...act('DELETE', webBlue), key: { ...webBlue, type: 'TXT' } }], ZONE)).toEqual([
      "Tried to delete resource record set [name='web.example.com.', type='TXT', set-identifier='eks-blue'] but it was not found",
    ]);
  });

  it('refuses a DELETE whose values, TTL or weight differ from the current ones; values in another order match', () => {
    const mismatch =
      "Tried to delete resource record set [name='api.example.com.', type='CNAME', set-identifier='eks-blue'] but the values provided do not match the current values";
    expect(changeBatchErrors([act('DELETE', { ...apiBlue, weight: 50 })], ZONE)).toEqual([mismatch]);
    expect(changeBatchErrors([act('DELETE', { ...apiBlue, ttl: 30 })], ZONE)).toEqual([mismatch]);
    expect(changeBatchErrors([act('DELETE', { ...apiBlue, values: ['stale.elb'] })], ZONE)).toEqual([mismatch]);
    const two = rs('txt', undefined, undefined, '"a"', '"b"');
    expect(changeBatchErrors([act('DELETE', { ...two, values: ['"b"', '"a"'] })], [two])).toEqual([]);
  });

  it('checks each change against the zone as the changes before it leave it, and lists every error in order', () => {
    // Deleted earlier in the batch: a CREATE is fine, a second DELETE finds nothing.
    expect(changeBatchErrors([act('DELETE', apiBlue), act('CREATE', apiBlue)], ZONE)).toEqual([]);
    expect(changeBatchErrors([act('DELETE', apiBlue), act('DELETE', apiBlue)], ZONE)).toEqual([
      "Tried to delete resource record set [name='api.example.com.', type='CNAME', set-identifier='eks-blue'] but it was not found",
    ]);
    // Upserted earlier in the batch: a DELETE must give the new values.
    const moved = rs('api', 'eks-blue', 40, 'blue.elb');
    expect(changeBatchErrors([act('UPSERT', moved), act('DELETE', moved)], ZONE)).toEqual([]);
    expect(changeBatchErrors([act('UPSERT', moved), act('DELETE', apiBlue)], ZONE)).toHaveLength(1);
    const errors = changeBatchErrors([act('CREATE', apiGreen), act('DELETE', rs('gone', 'eks-blue', 1, 'x'))], ZONE);
    expect(changeBatchMessage(errors)).toBe(
      "[Tried to create resource record set [name='api.example.com.', type='CNAME', set-identifier='eks-green'] but it already exists, " +
        "Tried to delete resource record set [name='gone.example.com.', type='CNAME', set-identifier='eks-blue'] but it was not found]",
    );
  });
});

describe('motoChanges', () => {
  it('sends a CREATE as an UPSERT and an UPSERT as itself (moto refuses a CREATE it saw before, deleted since)', () => {
    expect(motoChanges([act('CREATE', rs('new', 'eks-blue', 1, 'x')), act('UPSERT', apiGreen)], [])).toEqual([
      { index: 0, action: 'UPSERT' },
      { index: 1, action: 'UPSERT' },
    ]);
  });

  it('sends a DELETE as the record set moto holds, and puts back after it every other record set with its set identifier', () => {
    expect(motoChanges([act('DELETE', apiBlue)], ZONE)).toEqual([
      { record: apiBlue, action: 'DELETE' },
      { record: webBlue, action: 'UPSERT' },
    ]);
    // ExternalDNS's rewrite of one name: the other name's record set is put back after the DELETE, the CREATE stands.
    expect(motoChanges([act('DELETE', apiBlue), act('CREATE', { ...apiBlue, weight: 60 })], ZONE)).toEqual([
      { record: apiBlue, action: 'DELETE' },
      { record: webBlue, action: 'UPSERT' },
      { index: 1, action: 'UPSERT' },
    ]);
  });

  it('puts back a record set as the batch left it when an earlier change of the batch wrote it', () => {
    const webMoved = rs('web', 'eks-blue', 30, 'web-blue.elb');
    expect(motoChanges([act('UPSERT', webMoved), act('DELETE', apiBlue)], ZONE)).toEqual([
      { index: 0, action: 'UPSERT' },
      { record: apiBlue, action: 'DELETE' },
      { index: 0, action: 'UPSERT' },
    ]);
    // Deleted after the batch wrote it: the batch's own change, now a DELETE.
    expect(motoChanges([act('UPSERT', webMoved), act('DELETE', webMoved)], ZONE)).toEqual([
      { index: 0, action: 'UPSERT' },
      { index: 0, action: 'DELETE' },
      { record: apiBlue, action: 'UPSERT' },
    ]);
  });

  it('puts back nothing that the batch deleted itself, nor anything when no other record set has the set identifier', () => {
    expect(motoChanges([act('DELETE', apiBlue), act('DELETE', webBlue)], ZONE)).toEqual([
      { record: apiBlue, action: 'DELETE' },
      { record: webBlue, action: 'UPSERT' },
      { record: webBlue, action: 'DELETE' },
    ]);
    expect(motoChanges([act('DELETE', apiGreen)], ZONE)).toEqual([{ record: apiGreen, action: 'DELETE' }]);
  });

  it('without a set identifier, puts back the record sets of that name and type that moto takes with it', () => {
    const plain = rs('api', undefined, undefined, 'plain.elb');
    expect(motoChanges([act('DELETE', plain)], [plain, apiBlue, webBlue])).toEqual([
      { record: plain, action: 'DELETE' },
      { record: apiBlue, action: 'UPSERT' },
    ]);
  });
});

describe('the body sent to moto', () => {
  it('writes a record set as a change element, values escaped, with every field the listing has', () => {
    const xml = recordSetXml({
      Name: 'api.example.com.',
      Type: 'TXT',
      SetIdentifier: 'eks-blue',
      Weight: 100,
      TTL: 60,
      ResourceRecords: [{ Value: '"a&b"' }, { Value: '"<c>"' }],
      HealthCheckId: 'hc-1',
    });
    expect(
      parseChangeBatch(
        `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>UPSERT</Action>${xml}</Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`,
      ),
    ).toEqual([
      {
        action: 'UPSERT',
        key: { name: 'api.example.com', type: 'TXT', setIdentifier: 'eks-blue' },
        ttl: 60,
        weight: 100,
        values: ['"a&b"', '"<c>"'],
      },
    ]);
    expect(xml).toContain('<HealthCheckId>hc-1</HealthCheckId>');
    expect(
      recordSetXml({ Name: 'a.example.com.', Type: 'A', AliasTarget: { HostedZoneId: 'Z1', DNSName: 'lb.', EvaluateTargetHealth: false } }),
    ).toBe(
      '<ResourceRecordSet><Name>a.example.com.</Name><Type>A</Type><AliasTarget><HostedZoneId>Z1</HostedZoneId><DNSName>lb.</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>',
    );
  });

  it("keeps the caller's changes and comment, rewrites their actions, names them in lower case and adds the zone's record sets", () => {
    const body = BODY.replace('<ChangeBatch>', '<ChangeBatch><Comment>weights</Comment>');
    const sent = motoChangeBody<string>(
      body,
      [
        { index: 1, action: 'DELETE' },
        { record: 'WEB', action: 'UPSERT' },
        { index: 0, action: 'UPSERT' },
      ],
      (r) => `<ResourceRecordSet><Name>${r}.example.com.</Name><Type>CNAME</Type></ResourceRecordSet>`,
    );
    expect(sent).toContain('<Comment>weights</Comment>');
    expect(sent).toContain('<Name>api.example.com.</Name>');
    expect(sent).toContain('<Name>WEB.example.com.</Name>');
    expect(parseChangeBatch(sent).map((c) => `${c.action} ${c.key.name} ${c.key.type}`)).toEqual([
      'DELETE cname-api.example.com TXT',
      'UPSERT web.example.com CNAME',
      'UPSERT api.example.com CNAME',
    ]);
  });
});

describe('oneAtATime', () => {
  it('runs work for one key after the one before it ends, even a failed one; other keys do not wait', async () => {
    const queue = oneAtATime();
    const log: string[] = [];
    let release: () => void = () => {};
    const first = queue('Z1', () => new Promise<void>((resolve) => (release = resolve)).then(() => log.push('Z1 first')));
    const failed = queue('Z1', async () => {
      log.push('Z1 failing');
      throw new Error('refused');
    });
    const third = queue('Z1', async () => log.push('Z1 third'));
    await queue('Z2', async () => log.push('Z2'));
    expect(log).toEqual(['Z2']);
    release();
    await first;
    await expect(failed).rejects.toThrow('refused');
    await third;
    expect(log).toEqual(['Z2', 'Z1 first', 'Z1 failing', 'Z1 third']);
  });
});
