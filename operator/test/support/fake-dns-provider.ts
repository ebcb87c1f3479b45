import {
  type ChangeStatus,
  type DnsChange,
  DnsChangeRejectedError,
  type DnsProvider,
  type DnsRecord,
} from '../../src/traffic/dns-provider.ts';
import { normalizeName } from '../../src/traffic/ownership.ts';

/**
 * An in-memory DnsProvider for unit tests, with Route53's semantics for what the traffic
 * reconciler relies on: records by name (any type and set identifier), change batches applied
 * atomically that fail whole when a DELETE does not match a record exactly or a CREATE finds one
 * already there, and changes that stay PENDING until the test makes them INSYNC.
 * (moto, behind the integration tests, is the reference; this is for the reconciler's logic.)
 */
export interface FakeDnsProvider extends DnsProvider {
  /** Every record of a zone, in the order written. */
  all(zoneId: string): DnsRecord[];
  /** Writes a record as someone else would (ExternalDNS, a hand edit): no batch, no change id. */
  put(zoneId: string, record: DnsRecord): void;
  /** The batches accepted, in order. */
  readonly batches: { zoneId: string; comment: string; changes: DnsChange[]; id: string }[];
  /** How many calls of each kind were made (records, change, changeStatus). */
  readonly calls: { records: number; change: number; changeStatus: number };
  /** Whether new changes start PENDING (the default: as Route53) or INSYNC at once. */
  startPending: boolean;
  /** Makes a PENDING change (every one when `id` is undefined) INSYNC. */
  sync(id?: string): void;
}

const identity = (r: DnsRecord) => `${normalizeName(r.name)}|${r.type}|${r.setIdentifier ?? ''}`;

const sameExactly = (a: DnsRecord, b: DnsRecord) =>
  identity(a) === identity(b) && (a.weight ?? 0) === (b.weight ?? 0) && a.ttl === b.ttl && a.values.join('\n') === b.values.join('\n');

export function createFakeDnsProvider(): FakeDnsProvider {
  const zones = new Map<string, Map<string, DnsRecord>>();
  const statuses = new Map<string, ChangeStatus>();
  const zone = (id: string) => {
    let records = zones.get(id);
    if (!records) {
      records = new Map();
      zones.set(id, records);
    }
    return records;
  };
  const copy = (r: DnsRecord): DnsRecord => ({ ...r, name: normalizeName(r.name), values: [...r.values] });
  let next = 0;

  const fake: FakeDnsProvider = {
    batches: [],
    calls: { records: 0, change: 0, changeStatus: 0 },
    startPending: true,

    async records(zoneId, names, { signal } = {}) {
      signal?.throwIfAborted();
      fake.calls.records += 1;
      const wanted = new Set(names.map(normalizeName));
      return [...zone(zoneId).values()].filter((r) => wanted.has(r.name)).map(copy);
    },

    async change(zoneId, changes, comment, { signal } = {}) {
      signal?.throwIfAborted();
      fake.calls.change += 1;
      // On a copy: a batch that fails anywhere leaves the zone as it was.
      const after = new Map(zone(zoneId));
      for (const { action, record } of changes) {
        const id = identity(record);
        const existing = after.get(id);
        if (action === 'DELETE') {
          if (!existing || !sameExactly(existing, record)) {
            throw new DnsChangeRejectedError(
              `Route53 refused the change batch: [Tried to delete resource record set [${id}] but the values provided do not match the current values]`,
            );
          }
          after.delete(id);
        } else if (action === 'CREATE') {
          if (existing) {
            throw new DnsChangeRejectedError(
              `Route53 refused the change batch: [Tried to create resource record set [${id}] but it already exists]`,
            );
          }
          after.set(id, copy(record));
        } else after.set(id, copy(record));
      }
      zones.set(zoneId, after);
      next += 1;
      const id = `/change/FAKE${next}`;
      const status: ChangeStatus = fake.startPending ? 'PENDING' : 'INSYNC';
      statuses.set(id, status);
      fake.batches.push({ zoneId, comment, changes: changes.map((c) => ({ action: c.action, record: copy(c.record) })), id });
      return { id, status };
    },

    async changeStatus(id, { signal } = {}) {
      signal?.throwIfAborted();
      fake.calls.changeStatus += 1;
      const status = statuses.get(id);
      if (!status) throw new Error(`NoSuchChange: ${id}`);
      return status;
    },

    all: (zoneId) => [...zone(zoneId).values()].map(copy),
    put(zoneId, record) {
      zone(zoneId).set(identity(record), copy(record));
    },
    sync(id) {
      for (const key of id === undefined ? [...statuses.keys()] : [id]) statuses.set(key, 'INSYNC');
    },
  };
  return fake;
}
