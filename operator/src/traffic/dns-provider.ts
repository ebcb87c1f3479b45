/**
 * What the traffic controller needs from a DNS service (Argo Rollouts' traffic routers are the
 * model): read the records at a few names, apply a list of changes as one atomic batch, and say
 * whether a batch is live everywhere. Route53 is the first implementation (route53/provider.ts);
 * the record-set logic (traffic/record-set.ts) never branches on the provider.
 */

export interface DnsRecord {
  /** Fully qualified, without the trailing dot, lower case. */
  name: string;
  type: string;
  setIdentifier?: string;
  weight?: number;
  ttl?: number;
  /** Record values as the provider stores them (a TXT string with its quotes). */
  values: string[];
}

/**
 * `DELETE` must match the live record exactly and `CREATE` fails when the record exists, so a
 * DELETE of what was read followed by a write of the new record, in one batch, is a
 * compare-and-swap: if anyone changed the record since it was read, the whole batch is refused
 * and nothing changes. `UPSERT` only ever follows the DELETE of the same record.
 */
export interface DnsChange {
  action: 'CREATE' | 'UPSERT' | 'DELETE';
  record: DnsRecord;
}

export type ChangeStatus = 'PENDING' | 'INSYNC';

/** `signal` gives up the call (the reconcile that makes it is past its deadline). */
export interface DnsCallOptions {
  signal?: AbortSignal;
}

export interface DnsProvider {
  /** Every record whose name is one of `names` (any type, any set identifier). */
  records(zoneId: string, names: readonly string[], options?: DnsCallOptions): Promise<DnsRecord[]>;
  /** Applies `changes` atomically: all or none. */
  change(
    zoneId: string,
    changes: readonly DnsChange[],
    comment: string,
    options?: DnsCallOptions,
  ): Promise<{ id: string; status: ChangeStatus }>;
  /** Whether the change is live on every authoritative server yet. */
  changeStatus(id: string, options?: DnsCallOptions): Promise<ChangeStatus>;
}

/** The provider is reachable but refuses our credentials, or there are none. */
export class DnsNotConfiguredError extends Error {
  override name = 'DnsNotConfiguredError';
}

/** The batch was refused as a whole (a record changed since it was read, say); nothing changed. */
export class DnsChangeRejectedError extends Error {
  override name = 'DnsChangeRejectedError';
}
