import { randomBytes } from 'node:crypto';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/**
 * What real Route53 does that moto does not (pure): the limits of a change batch, the
 * account-wide request rate, changes that stay PENDING for a while, and a record set's identity
 * (name, type, set identifier) in CREATE and DELETE. The stand-in front in route53.ts applies
 * these rules to every call it forwards to moto.
 *
 * From the Route53 API reference (ChangeResourceRecordSets) and the developer guide's quotas:
 * - a batch holds at most 1,000 ResourceRecord elements and 32,000 characters in all Value
 *   elements; an UPSERT counts twice for both (it is a DELETE and a CREATE);
 * - 5 requests per second per AWS account, for all of Route53's API, answered `Throttling` over it;
 * - a change is PENDING until every authoritative server has it (INSYNC), typically within 60 s;
 * - a batch is validated change by change against the zone as the changes before it leave it, and
 *   applied whole or not at all: a CREATE of a record set that exists, a DELETE of one that does
 *   not or whose values differ from the current ones refuse the batch (InvalidChangeBatch).
 */

export const BATCH_MAX_RECORDS = 1000;
export const BATCH_MAX_VALUE_CHARACTERS = 32_000;

export interface RecordKey {
  /** Fully qualified, lower case, without the trailing dot. */
  name: string;
  type: string;
  setIdentifier?: string;
}

export interface BatchChange {
  action: 'CREATE' | 'DELETE' | 'UPSERT';
  key: RecordKey;
  ttl?: number;
  weight?: number;
  values: string[];
}

/** A record set as the zone holds it (the shape `listRecords` reads): what a DELETE must match. */
export interface RecordSetValues extends RecordKey {
  ttl?: number;
  weight?: number;
  /** Values as Route53 stores them (a TXT string with its quotes). */
  values: string[];
}

/** One string for a record set's identity: a name, a type and a set identifier make a record set. */
export const recordKeyId = (k: RecordKey) => `${k.name.toLowerCase()}|${k.type}|${k.setIdentifier ?? ''}`;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  // Character references too: Go's encoding/xml (ExternalDNS's aws-sdk-go-v2) writes a TXT value's quotes as &#34;.
  htmlEntities: true,
  isArray: (name) => name === 'Change' || name === 'ResourceRecord',
});

/** The changes of a ChangeResourceRecordSetsRequest body, as the SDK sends it. */
export function parseChangeBatch(xml: string): BatchChange[] {
  const doc = parser.parse(xml) as {
    ChangeResourceRecordSetsRequest?: { ChangeBatch?: { Changes?: { Change?: RawChange[] } } };
  };
  const changes = doc.ChangeResourceRecordSetsRequest?.ChangeBatch?.Changes?.Change ?? [];
  return changes.map((c) => {
    const set = c.ResourceRecordSet ?? {};
    return {
      action: c.Action,
      key: {
        name: String(set.Name ?? '')
          .toLowerCase()
          .replace(/\.$/, ''),
        type: String(set.Type ?? ''),
        ...(set.SetIdentifier !== undefined ? { setIdentifier: String(set.SetIdentifier) } : {}),
      },
      ...(set.TTL !== undefined ? { ttl: Number(set.TTL) } : {}),
      ...(set.Weight !== undefined ? { weight: Number(set.Weight) } : {}),
      values: (set.ResourceRecords?.ResourceRecord ?? []).map((r) => String(r.Value ?? '')),
    };
  });
}

interface RawChange {
  Action: BatchChange['action'];
  ResourceRecordSet?: {
    Name?: string;
    Type?: string;
    SetIdentifier?: string;
    TTL?: string;
    Weight?: string;
    ResourceRecords?: { ResourceRecord?: { Value?: string }[] };
  };
}

/** Route53's InvalidChangeBatch message when the batch is over its limits, or undefined. */
export function batchLimitError(changes: readonly BatchChange[]): string | undefined {
  let records = 0;
  let characters = 0;
  for (const c of changes) {
    const times = c.action === 'UPSERT' ? 2 : 1;
    records += c.values.length * times;
    characters += c.values.reduce((sum, v) => sum + v.length, 0) * times;
  }
  if (records > BATCH_MAX_RECORDS) return `Number of records limit of ${BATCH_MAX_RECORDS} exceeded.`;
  if (characters > BATCH_MAX_VALUE_CHARACTERS) return `Number of characters limit of ${BATCH_MAX_VALUE_CHARACTERS} exceeded.`;
  return undefined;
}

/** A record set as Route53's messages name it. */
const described = (k: RecordKey) =>
  `[name='${k.name}.', type='${k.type}'${k.setIdentifier !== undefined ? `, set-identifier='${k.setIdentifier}'` : ''}]`;

const sorted = (values: readonly string[]) => JSON.stringify([...values].sort());
const sameValues = (a: Omit<RecordSetValues, keyof RecordKey>, b: Omit<RecordSetValues, keyof RecordKey>) =>
  a.ttl === b.ttl && a.weight === b.weight && sorted(a.values) === sorted(b.values);

/**
 * Route53's InvalidChangeBatch messages for `batch` against the zone's record sets (all of them,
 * of every type), in the batch's order; none when Route53 would take it. Each change is checked
 * against the zone as the changes before it leave it: a DELETE then a CREATE of one record set is
 * how a caller rewrites it. A DELETE must give the current TTL, weight and values (in any order);
 * the wording is Route53's, as ExternalDNS's and Terraform's logs quote it.
 */
export function changeBatchErrors(batch: readonly BatchChange[], zone: readonly RecordSetValues[]): string[] {
  const held = new Map<string, Omit<RecordSetValues, keyof RecordKey>>(zone.map((r) => [recordKeyId(r), r]));
  const errors: string[] = [];
  for (const c of batch) {
    const id = recordKeyId(c.key);
    const current = held.get(id);
    if (c.action === 'CREATE' && current) errors.push(`Tried to create resource record set ${described(c.key)} but it already exists`);
    else if (c.action === 'DELETE' && !current) errors.push(`Tried to delete resource record set ${described(c.key)} but it was not found`);
    else if (c.action === 'DELETE' && current && !sameValues(current, c)) {
      errors.push(`Tried to delete resource record set ${described(c.key)} but the values provided do not match the current values`);
    } else if (c.action === 'DELETE') held.delete(id);
    else held.set(id, c);
  }
  return errors;
}

/** The InvalidChangeBatch message for those errors: Route53 lists them all, in brackets. */
export const changeBatchMessage = (errors: readonly string[]) => `[${errors.join(', ')}]`;

/** One change of the batch sent to moto: the caller's change `index`, or a record set as moto holds it, sent as `action`. */
export type MotoChange<R> = ({ index: number } | { record: R }) & { action: 'UPSERT' | 'DELETE' };

/** Which record sets moto 5.2.5's DELETE takes (route53/models.py, delete_rrset_by_id and delete_rrset). */
const motoDeleteTakes = (deleted: RecordKey, other: RecordKey) =>
  deleted.setIdentifier !== undefined
    ? other.setIdentifier === deleted.setIdentifier
    : other.name === deleted.name && other.type === deleted.type;

/**
 * The batch to send moto so that, for a batch `changeBatchErrors` takes, moto's zone ends as
 * Route53's would. moto 5.2.5 (route53/models.py, change_resource_record_sets) deviates:
 * - a DELETE with a set identifier deletes every record set of the zone with that set identifier,
 *   whatever its name and type (one without: every record set of that name and type), so each
 *   record set it takes beside its own is put back right after it, as it stands at that point of
 *   the batch (moto applies changes in order: one an earlier change of the batch wrote is put back
 *   as that change);
 * - a CREATE identical to one in the zone's journal is refused "already exists" when any record
 *   set sorts at or after its name, even once it was deleted since, so a CREATE is sent as an
 *   UPSERT (the same change, the record set not existing);
 * - a DELETE must match a CREATE or UPSERT of its journal, name in the same case and values in the
 *   same order, so it is sent as the record set moto holds (whose TTL, weight and values the caller's
 *   match). Its journal is checked before the batch: a DELETE of a record set an earlier change of
 *   the same batch wrote is still refused by moto (InvalidInput).
 */
export function motoChanges<R extends RecordSetValues>(batch: readonly BatchChange[], zone: readonly R[]): MotoChange<R>[] {
  const held = new Map<string, { key: RecordKey; from: { index: number } | { record: R } }>(
    zone.map((r) => [recordKeyId(r), { key: r, from: { record: r } }]),
  );
  const sent: MotoChange<R>[] = [];
  batch.forEach((c, index) => {
    const id = recordKeyId(c.key);
    if (c.action !== 'DELETE') {
      sent.push({ index, action: 'UPSERT' });
      held.set(id, { key: c.key, from: { index } });
      return;
    }
    sent.push({ ...(held.get(id)?.from ?? { index }), action: 'DELETE' });
    held.delete(id);
    for (const { key, from } of held.values()) if (motoDeleteTakes(c.key, key)) sent.push({ ...from, action: 'UPSERT' });
  });
  return sent;
}

const builder = new XMLBuilder({ suppressEmptyNode: true });

/** A record set as the ResourceRecordSet element of a change (the SDK's listing shape to the request's XML). */
export function recordSetXml(set: ResourceRecordSet): string {
  const { ResourceRecords, ...rest } = set;
  return builder.build({
    ResourceRecordSet: { ...rest, ...(ResourceRecords ? { ResourceRecords: { ResourceRecord: ResourceRecords } } : {}) },
  }) as string;
}

/**
 * The caller's ChangeResourceRecordSets body with its changes replaced by `sent`: the caller's
 * own Change elements (action rewritten, name in lower case, as Route53 stores names) and
 * `recordXml`'s record sets; the rest of the body (its comment) as the caller wrote it.
 */
export function motoChangeBody<R>(body: string, sent: readonly MotoChange<R>[], recordXml: (r: R) => string): string {
  // A Change holds no element of its own name and values are escaped, so the first close ends it.
  const own = [...body.matchAll(/<Change>[\s\S]*?<\/Change>/g)].map((m) => m[0]);
  const changes = sent.map((c) =>
    'record' in c
      ? `<Change><Action>${c.action}</Action>${recordXml(c.record)}</Change>`
      : (own[c.index] ?? '')
          .replace(/<Action>\w+<\/Action>/, `<Action>${c.action}</Action>`)
          .replace(/<Name>([^<]*)<\/Name>/, (_, name: string) => `<Name>${name.toLowerCase()}</Name>`),
  );
  return body.replace(/<Changes>[\s\S]*<\/Changes>/, () => `<Changes>${changes.join('')}</Changes>`);
}

/**
 * Runs `work` for one key at a time, in the order asked: Route53 checks a batch and applies it as
 * one step, the stand-in reads moto, decides and writes in several.
 */
export function oneAtATime() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(work);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}

/**
 * The account's request budget as Route53 enforces it: a bucket of `burst` tokens refilled at
 * `perSecond`; a request without a token is refused (Throttling), not queued.
 */
export function accountRateLimit(perSecond: number, burst = perSecond, now: () => number = Date.now) {
  let tokens = burst;
  let last = now();
  return {
    take(): boolean {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/** A change accepted and not yet INSYNC: until `insyncAt`, DNS still answers `before` for its record sets. */
export interface PendingChange<R> {
  id: string;
  zoneId: string;
  insyncAt: number;
  keys: string[];
  /** The record sets of `keys` as they were before the change (what DNS serves meanwhile). */
  before: R[];
}

/**
 * The changes still PENDING. `conflict` answers Route53's PriorRequestNotComplete rule as this
 * stand-in applies it: a change to a record set whose previous change is not INSYNC yet.
 */
export function pendingChanges<R extends RecordKey>(now: () => number = Date.now) {
  const pending = new Map<string, PendingChange<R>>();
  const live = () => {
    for (const [id, change] of pending) if (change.insyncAt <= now()) pending.delete(id);
    return [...pending.values()];
  };
  return {
    add(change: PendingChange<R>): void {
      pending.set(change.id, change);
    },
    /** PENDING or INSYNC for a change id this stand-in accepted; undefined for one it does not know. */
    status(id: string): 'PENDING' | 'INSYNC' | undefined {
      const change = pending.get(id);
      if (!change) return undefined;
      return change.insyncAt > now() ? 'PENDING' : 'INSYNC';
    },
    conflict(zoneId: string, keys: readonly string[]): boolean {
      return live().some((c) => c.zoneId === zoneId && c.keys.some((k) => keys.includes(k)));
    },
    /** The zone's record sets as DNS serves them: `current` with every PENDING change's record sets as they were before it. */
    served(zoneId: string, current: readonly R[]): R[] {
      const changes = live().filter((c) => c.zoneId === zoneId);
      const touched = new Set(changes.flatMap((c) => c.keys));
      return [...current.filter((r) => !touched.has(recordKeyId(r))), ...changes.flatMap((c) => c.before)];
    },
  };
}

/** A change id as Route53 makes them: C and 13 letters and digits. */
export const newChangeId = () => `C${[...randomBytes(13)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[b % 36]).join('')}`;

/** Route53's GetChange answer for a change. */
export const getChangeXml = (id: string, status: 'PENDING' | 'INSYNC', submittedAt: string) =>
  '<?xml version="1.0" encoding="UTF-8"?>\n<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
  `<ChangeInfo><Id>/change/${id}</Id><Status>${status}</Status><SubmittedAt>${submittedAt}</SubmittedAt></ChangeInfo></GetChangeResponse>`;
