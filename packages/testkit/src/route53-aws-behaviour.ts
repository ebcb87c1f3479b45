import { XMLParser } from 'fast-xml-parser';

/**
 * What real Route53 does that moto does not (pure): the limits of a change batch, the
 * account-wide request rate, and changes that stay PENDING for a while. The stand-in front in
 * route53.ts applies these rules to every call it forwards to moto.
 *
 * From the Route53 API reference (ChangeResourceRecordSets) and the developer guide's quotas:
 * - a batch holds at most 1,000 ResourceRecord elements and 32,000 characters in all Value
 *   elements; an UPSERT counts twice for both (it is a DELETE and a CREATE);
 * - 5 requests per second per AWS account, for all of Route53's API, answered `Throttling` over it;
 * - a change is PENDING until every authoritative server has it (INSYNC), typically within 60 s.
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
  values: string[];
}

/** One string for a record set's identity: a name, a type and a set identifier make a record set. */
export const recordKeyId = (k: RecordKey) => `${k.name.toLowerCase()}|${k.type}|${k.setIdentifier ?? ''}`;

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
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
