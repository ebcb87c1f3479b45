import { describe, expect, it } from '@jest/globals';
import type { SeenRecordSet } from '../src/route53.ts';
import {
  accountRateLimit,
  type BatchChange,
  batchLimitError,
  parseChangeBatch,
  pendingChanges,
  recordKeyId,
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
      { action: 'UPSERT', key: { name: 'api.example.com', type: 'CNAME', setIdentifier: 'eks-green' }, values: ['green.elb.example.com'] },
      {
        action: 'UPSERT',
        key: { name: 'cname-api.example.com', type: 'TXT', setIdentifier: 'eks-green' },
        values: ['"heritage=external-dns"'],
      },
    ]);
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
