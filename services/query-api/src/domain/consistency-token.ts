/** A GTID list as `domain → sequence` (the server id does not order writes; the sequence does, per domain). */
function sequences(gtids: string): Map<string, bigint> {
  const byDomain = new Map<string, bigint>();
  for (const gtid of gtids.split(',').filter(Boolean)) {
    const [domain = '', , sequence = '0'] = gtid.trim().split('-');
    const seq = BigInt(sequence);
    if ((byDomain.get(domain) ?? -1n) < seq) byDomain.set(domain, seq);
  }
  return byDomain;
}

/**
 * Whether a token names a write the primary has not made: a sequence past the primary's in some
 * replication domain, or a domain the primary has never written (`position` is the primary's
 * `@@gtid_binlog_pos`). No replica can ever reach such a GTID, so a read with it would hold a
 * connection for the whole wait and then go to the primary for nothing.
 */
export function isAheadOf(token: string, position: string): boolean {
  const primary = sequences(position);
  for (const [domain, seq] of sequences(token)) {
    const reached = primary.get(domain);
    if (reached === undefined || seq > reached) return true;
  }
  return false;
}
