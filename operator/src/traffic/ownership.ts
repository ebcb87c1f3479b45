/**
 * Ownership of DNS records, in ExternalDNS's TXT registry format (pure), so that this operator
 * and ExternalDNS recognise each other's records and neither overwrites what it does not own.
 *
 * The format, as ExternalDNS's registry/txt.go and endpoint/labels.go write it:
 * - Value: `"heritage=external-dns,external-dns/owner=<owner id>,external-dns/resource=<resource>"`
 *   (heritage first, then the labels sorted by key, each prefixed `external-dns/`, in quotes).
 *   A TXT without `heritage=external-dns` is not an ownership record.
 * - Name (the "new format", the only one since ExternalDNS v0.18): the record type in lower case
 *   and a dash before the first label, `cname-api.example.com` for `api.example.com`. With
 *   `--txt-prefix`/`--txt-suffix` the affix goes before/after the first label, and a
 *   `%{record_type}` in it takes the place of the `<type>-` part. The legacy name (no type, as
 *   written before v0.18) is still read, never written: a CNAME cannot share its name.
 * - A weighted record's TXT carries the record's set identifier and its weight (ExternalDNS copies
 *   the provider-specific properties), so there is one ownership TXT per set identifier and it
 *   changes together with the record.
 */

export const HERITAGE = 'external-dns';
const RECORD_TYPE_TEMPLATE = '%{record_type}';

export interface TxtAffix {
  /** ExternalDNS's `--txt-prefix`; empty for none. */
  prefix: string;
  /** ExternalDNS's `--txt-suffix`; empty for none (prefix and suffix are mutually exclusive). */
  suffix: string;
}

export const NO_AFFIX: TxtAffix = { prefix: '', suffix: '' };

/** A DNS name without the trailing dot, in lower case (Route53 answers `api.example.com.`). */
export const normalizeName = (name: string) => name.toLowerCase().replace(/\.$/, '');

function withFirstLabel(name: string, f: (first: string) => string): string {
  const [first = '', ...rest] = normalizeName(name).split('.');
  return [f(first), ...rest].join('.');
}

/** The name of the ownership TXT of the `recordType` record `name` (ExternalDNS's toNewTXTName). */
export function txtRecordName(name: string, recordType: string, affix: TxtAffix = NO_AFFIX): string {
  const type = recordType.toLowerCase();
  const templated = affix.prefix.includes(RECORD_TYPE_TEMPLATE) || affix.suffix.includes(RECORD_TYPE_TEMPLATE);
  const prefix = affix.prefix.toLowerCase().replaceAll(RECORD_TYPE_TEMPLATE, type);
  const suffix = affix.suffix.toLowerCase().replaceAll(RECORD_TYPE_TEMPLATE, type);
  return withFirstLabel(name, (first) => `${prefix}${templated ? '' : `${type}-`}${first}${suffix}`);
}

/** The legacy (pre-v0.18) name of the ownership TXT: no record type. Read only. */
export function legacyTxtRecordName(name: string, affix: TxtAffix = NO_AFFIX): string {
  const prefix = affix.prefix.toLowerCase().replaceAll(RECORD_TYPE_TEMPLATE, '');
  const suffix = affix.suffix.toLowerCase().replaceAll(RECORD_TYPE_TEMPLATE, '');
  return withFirstLabel(name, (first) => `${prefix}${first}${suffix}`);
}

export type Labels = Readonly<Record<string, string>>;

/** The TXT value for these labels (owner, resource), quoted as Route53 stores TXT strings. */
export function ownershipValue(labels: Labels): string {
  const tokens = [
    `heritage=${HERITAGE}`,
    ...Object.keys(labels)
      .sort()
      .map((k) => `${HERITAGE}/${k}=${labels[k]}`),
  ];
  return `"${tokens.join(',')}"`;
}

/** The labels of an ownership TXT value, or undefined when it is not one (no external-dns heritage). */
export function parseOwnership(value: string): Labels | undefined {
  const labels: Record<string, string> = {};
  let heritage = false;
  for (const token of value.replace(/^"|"$/g, '').split(',')) {
    const parts = token.split('=');
    if (parts.length !== 2) continue;
    const [key = '', val = ''] = parts;
    if (key === 'heritage') {
      if (val !== HERITAGE) return undefined;
      heritage = true;
    } else if (key.startsWith(`${HERITAGE}/`)) labels[key.slice(HERITAGE.length + 1)] = val;
  }
  return heritage ? labels : undefined;
}

/** The labels of a record that should be an ownership TXT (one value), or undefined when it is not one. */
export function ownershipLabels(txt: { values: readonly string[] } | undefined): Labels | undefined {
  return txt?.values.length === 1 ? parseOwnership(txt.values[0] as string) : undefined;
}

/** The namespace whose UID tells one cluster from another (every cluster has it; a copy of a cluster's values does not carry it). */
export const CLUSTER_IDENTITY_NAMESPACE = 'kube-system';

/**
 * The owner id when none is configured: the set identifier and the start of this cluster's
 * kube-system UID, so a second cluster installed with a copy of the first one's values (the
 * same `cluster`) gets an owner id of its own and cannot take the first one's record for its own.
 */
export function defaultOwnerId(cluster: string, clusterUid: string): string {
  return `reservation-operator-${cluster}-${clusterUid.replaceAll('-', '').slice(0, 12)}`;
}

/** Owner ids are label values: no separators of the format in them. */
export function ownerIdError(owner: string): string | undefined {
  if (!/^[A-Za-z0-9][-A-Za-z0-9_.:/]{0,252}$/.test(owner)) {
    return `owner id "${owner}" must be 1-253 letters, digits or - _ . : / (it goes into an ExternalDNS TXT value)`;
  }
  return undefined;
}

/** One record as read from the DNS provider, with our set identifier. */
export interface SeenRecord {
  name: string;
  type: string;
  values: string[];
}

export type Ownership = { kind: 'absent' } | { kind: 'ours' } | { kind: 'foreign'; owner?: string; reason: string };

/** The owner and resource labels of one ownership TXT, as ExternalDNS writes them. */
interface Claim {
  owner: string;
  resource: string | undefined;
}

/**
 * Who owns the record set `name` / `setIdentifier`, from the records with that set identifier:
 * those at the name itself and the ownership TXTs (new and legacy names). `recordType` is the
 * type this operator writes (CNAME). ExternalDNS's rule: a record is someone's only when an
 * ownership TXT says so; a record without one is not touched. Ours means our owner id AND our
 * resource: two Reservations under one owner id (two namespaces, the same name and cluster)
 * must not take turns rewriting one record set.
 */
export function classifyOwnership(
  input: { name: string; setIdentifier: string; recordType: string; owner: string; resource: string; affix?: TxtAffix },
  seen: readonly SeenRecord[],
): Ownership {
  const affix = input.affix ?? NO_AFFIX;
  const name = normalizeName(input.name);
  const txtNames = new Set([txtRecordName(name, input.recordType, affix), legacyTxtRecordName(name, affix)]);
  const where = `${name} (set identifier ${input.setIdentifier})`;
  const records = seen.filter((r) => normalizeName(r.name) === name && r.type !== 'TXT');
  const txts = seen.filter((r) => r.type === 'TXT' && txtNames.has(normalizeName(r.name)));

  const claims: Claim[] = [];
  for (const txt of txts) {
    const labels = ownershipLabels(txt);
    if (!labels) {
      return {
        kind: 'foreign',
        reason: `a TXT record ${normalizeName(txt.name)} with set identifier ${input.setIdentifier} exists and is not an ExternalDNS ownership record`,
      };
    }
    claims.push({ owner: labels.owner ?? '', resource: labels.resource });
  }
  const other = claims.map((c) => c.owner).find((o) => o !== input.owner);
  if (other !== undefined) {
    return {
      kind: 'foreign',
      owner: other || undefined,
      reason: other
        ? `${where} is owned by "${other}" (its ExternalDNS ownership TXT record says so)`
        : `${where} has an ownership TXT record without an owner`,
    };
  }
  const sibling = claims.find((c) => c.resource !== input.resource);
  if (sibling) {
    return {
      kind: 'foreign',
      owner: input.owner,
      reason: sibling.resource
        ? `${where} belongs to ${sibling.resource} under the same owner id "${input.owner}": one record set, one Reservation`
        : `${where} has an ownership TXT record of owner "${input.owner}" without a resource label, so no Reservation can claim it`,
    };
  }
  const wrongType = records.find((r) => r.type !== input.recordType);
  if (wrongType)
    return { kind: 'foreign', reason: `${where} exists as a ${wrongType.type} record; this operator manages a ${input.recordType}` };
  if (claims.length === 0) {
    if (records.length > 0) {
      return {
        kind: 'foreign',
        reason: `${where} exists without an ownership TXT record (made by hand or by another tool), so it is not ours to change`,
      };
    }
    return { kind: 'absent' };
  }
  return { kind: 'ours' };
}
