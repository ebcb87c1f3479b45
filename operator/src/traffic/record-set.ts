import type { Reservation } from '../api/v1alpha1/reservation.ts';
import type { DnsChange, DnsRecord } from './dns-provider.ts';
import {
  type Labels,
  legacyTxtRecordName,
  normalizeName,
  ownershipLabels,
  ownershipValue,
  type TxtAffix,
  txtRecordName,
} from './ownership.ts';

/**
 * This cluster's record set (pure): the weighted CNAME and its ownership TXT, and the one batch
 * that takes Route53 from what it has to what we want.
 */

export const RECORD_TYPE = 'CNAME';

/** A weighted record and its ownership TXT, as read (either may be missing). */
export interface RecordSet {
  record?: DnsRecord;
  txt?: DnsRecord;
}

/** A record set as it should be: both records. */
export interface DesiredRecordSet {
  record: DnsRecord;
  txt: DnsRecord;
}

/** One record set as read, and as it should be. */
export type RecordSetPair = [current: RecordSet, desired: DesiredRecordSet];

export interface RecordSetKey {
  name: string;
  setIdentifier: string;
  affix: TxtAffix;
}

/** The names to read: the record and its ownership TXT (new format, and legacy when it differs). */
export function namesToRead(key: RecordSetKey): string[] {
  return [...new Set([normalizeName(key.name), txtRecordName(key.name, RECORD_TYPE, key.affix), legacyTxtRecordName(key.name, key.affix)])];
}

/** The ExternalDNS `resource` label: which object wants the record. */
export const resourceLabel = (cr: Pick<Reservation, 'metadata'>) => `reservation/${cr.metadata.namespace}/${cr.metadata.name}`;

export function desiredRecordSet(
  key: RecordSetKey,
  want: { target: string; ttl: number; weight: number; owner: string; resource: string },
): DesiredRecordSet {
  const common = { setIdentifier: key.setIdentifier, weight: want.weight, ttl: want.ttl };
  return {
    record: { name: normalizeName(key.name), type: RECORD_TYPE, ...common, values: [normalizeName(want.target)] },
    // ExternalDNS gives the TXT the record's set identifier and weight; so do we.
    txt: {
      name: txtRecordName(key.name, RECORD_TYPE, key.affix),
      type: 'TXT',
      ...common,
      values: [ownershipValue({ owner: want.owner, resource: want.resource })],
    },
  };
}

/** Our two records among what was read (by name, type and set identifier). */
export function currentRecordSet(key: RecordSetKey, seen: readonly DnsRecord[]): RecordSet {
  const mine = seen.filter((r) => r.setIdentifier === key.setIdentifier);
  return {
    record: mine.find((r) => r.name === normalizeName(key.name) && r.type === RECORD_TYPE),
    txt: mine.find((r) => r.name === txtRecordName(key.name, RECORD_TYPE, key.affix) && r.type === 'TXT'),
  };
}

export const sameRecord = (a: DnsRecord | undefined, b: DnsRecord | undefined) =>
  !!a &&
  !!b &&
  a.name === b.name &&
  a.type === b.type &&
  a.setIdentifier === b.setIdentifier &&
  (a.weight ?? 0) === (b.weight ?? 0) &&
  a.ttl === b.ttl &&
  a.values.map(normalizeValue).join('\n') === b.values.map(normalizeValue).join('\n');

const normalizeValue = (v: string) => v.replace(/\.$/, '').toLowerCase();

/**
 * The batch from `current` to `desired`: each live record DELETEd exactly as read, then both
 * written; the record and its TXT always together, so Route53 never
 * holds a record without its owner or an owner claim without its record. Empty when in sync.
 */
export function recordSetChanges(current: RecordSet, desired: DesiredRecordSet): DnsChange[] {
  if (sameRecord(current.record, desired.record) && sameRecord(current.txt, desired.txt)) return [];
  // Deletes first, then writes: one atomic batch either way in Route53 (moto deletes by set
  // identifier alone, so there a write between the deletes would be undone). A record that was
  // there is written back with UPSERT after its exact DELETE: the DELETE keeps the
  // compare-and-swap, and moto refuses a CREATE that repeats an earlier one even when the same
  // batch deletes the record first. A record that was not there is a CREATE, which fails if
  // someone made it meanwhile.
  return [
    ...removalChanges(current),
    { action: current.record ? 'UPSERT' : 'CREATE', record: desired.record },
    { action: current.txt ? 'UPSERT' : 'CREATE', record: desired.txt },
  ];
}

/**
 * One batch for several record sets (ours and the peer's during a cutover): every DELETE first,
 * then the writes, so no write is undone by a later delete of the same set identifier (moto).
 */
export function batchChanges(pairs: readonly RecordSetPair[]): DnsChange[] {
  const changes = pairs.flatMap(([current, desired]) => recordSetChanges(current, desired));
  return [...changes.filter((c) => c.action === 'DELETE'), ...changes.filter((c) => c.action !== 'DELETE')];
}

/**
 * During a cutover the operator that runs it writes the peer's weight too, and says so in the
 * peer's ownership TXT with this label; the peer's operator sees it and leaves its weight alone.
 * Removing the label hands the weight back.
 */
export const WEIGHT_WRITER_LABEL = 'weight-writer';

/** Who writes this record set's weight for now, from its ownership TXT (undefined: its owner). */
export function weightWriter(txt: DnsRecord | undefined): string | undefined {
  return ownershipLabels(txt)?.[WEIGHT_WRITER_LABEL];
}

/**
 * While a cutover drains the peer (weight 0, waiting out the TTLs), this label asks the peer's
 * operator to make its services answer with `Connection: close`, so keep-alive clients reconnect
 * and resolve the name again.
 */
export const DRAIN_LABEL = 'drain';
/** On the peer's TXT while an abort needs it to take the traffic back: the replicas it needs (prescale.ts encodeFloors). */
export const FLOORS_LABEL = 'min-replicas';
export const DRAIN_CONNECTION_CLOSE = 'connection-close';

/**
 * At each step that lowers the peer's share, this label asks the peer's operator to close that
 * share of its services' keep-alive connections (rebalance.ts): `<from>-<to>`, the peer's share
 * before and after the step, percent.
 */
export const REBALANCE_LABEL = 'rebalance';

/**
 * The ownership TXT value with the weight writer set (with the drain request when `drain`, the
 * floors asked of the peer when `floors`, the rebalance request when `rebalance`), or all of them
 * removed when `writer` is undefined.
 */
export function withWeightWriter(
  labels: Labels,
  writer: string | undefined,
  { drain = false, floors, rebalance }: { drain?: boolean; floors?: string; rebalance?: { from: number; to: number } } = {},
): string {
  const {
    [WEIGHT_WRITER_LABEL]: _writer,
    [DRAIN_LABEL]: _drain,
    [HANDED_BACK_LABEL]: _back,
    [FLOORS_LABEL]: _floors,
    [REBALANCE_LABEL]: _re,
    ...rest
  } = labels;
  if (!writer) return ownershipValue(rest);
  return ownershipValue({
    ...rest,
    [WEIGHT_WRITER_LABEL]: writer,
    ...(drain ? { [DRAIN_LABEL]: DRAIN_CONNECTION_CLOSE } : {}),
    ...(floors ? { [FLOORS_LABEL]: floors } : {}),
    ...(rebalance ? { [REBALANCE_LABEL]: `${rebalance.from}-${rebalance.to}` } : {}),
  });
}

/** The rebalance a peer's cutover asks of this record set's services, if its TXT carries one. */
export function rebalanceRequested(txt: DnsRecord | undefined): { from: number; to: number } | undefined {
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(ownershipLabels(txt)?.[REBALANCE_LABEL] ?? '');
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  return from <= 100 && to < from ? { from, to } : undefined;
}

/**
 * Left on the peer's TXT by the batch that hands its weight back, naming the cutover's operator:
 * a peer that did not look while the cutover ran (a short cutover between two of its read-backs)
 * still sees that its weight was handed back rather than changed by hand, and keeps it instead of
 * writing its spec's weight over a finished cutover. The peer drops it on its next write.
 */
export const HANDED_BACK_LABEL = 'handed-back-by';

/** The ownership TXT value of a record set handed back by `by`'s cutover (pure). */
export function handedBackValue(labels: Labels, by: string): string {
  const { [WEIGHT_WRITER_LABEL]: _writer, [DRAIN_LABEL]: _drain, [FLOORS_LABEL]: _floors, [REBALANCE_LABEL]: _re, ...rest } = labels;
  return ownershipValue({ ...rest, [HANDED_BACK_LABEL]: by });
}

/** Whose finished cutover handed this record set's weight back, if its TXT says so. */
export function handedBackBy(txt: DnsRecord | undefined): string | undefined {
  return ownershipLabels(txt)?.[HANDED_BACK_LABEL];
}

/** The replicas a peer's aborting cutover asks this record set's services to hold, if any. */
export function floorsRequested(txt: DnsRecord | undefined): string | undefined {
  return ownershipLabels(txt)?.[FLOORS_LABEL];
}

/** Whether a peer's cutover asks this record set's services to close keep-alive connections. */
export function drainRequested(txt: DnsRecord | undefined): boolean {
  return ownershipLabels(txt)?.[DRAIN_LABEL] === DRAIN_CONNECTION_CLOSE;
}

/** The batch that removes both records, exactly as read. */
export function removalChanges(current: RecordSet): DnsChange[] {
  return [current.record, current.txt].filter((r): r is DnsRecord => !!r).map((record) => ({ action: 'DELETE', record }));
}

/** The weights of every live weighted record of the name (set identifier → weight), ours replaced by `weight`. */
export function liveWeightsAfter(key: RecordSetKey, seen: readonly DnsRecord[], weight: number): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const r of seen) {
    if (r.name === normalizeName(key.name) && r.type === RECORD_TYPE && r.setIdentifier !== undefined)
      weights[r.setIdentifier] = r.weight ?? 0;
  }
  weights[key.setIdentifier] = weight;
  return weights;
}
