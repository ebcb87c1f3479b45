/**
 * How the simulation's clients resolve the weighted name. moto stores Route53's records and
 * answers its API, but serves no DNS: the weighted choice of an answer is the one part of
 * Route53 the simulation stands in for (`route53WeightedAnswerStandIn`). The records it chooses
 * from are read from moto through the real API (ListResourceRecordSets), and each client caches
 * the answer for the record's TTL like a caching resolver.
 */

/** One weighted record of the name, as ListResourceRecordSets returns it. */
export interface WeightedRecord {
  setIdentifier: string;
  weight: number;
  /** The CNAME's value: the load balancer's hostname. */
  value: string;
  ttlSeconds: number;
}

/**
 * Route53's weighted rule: each record is answered with probability weight / sum of weights; a
 * record of weight 0 is never answered, unless every record has weight 0, and then all of them
 * equally (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html).
 * `random` returns a number in [0, 1), like Math.random.
 */
export function route53WeightedAnswerStandIn(records: readonly WeightedRecord[], random: () => number): WeightedRecord {
  if (records.length === 0) throw new Error('no weighted record to answer with (NXDOMAIN)');
  const total = records.reduce((sum, r) => sum + r.weight, 0);
  if (total === 0) return records[Math.min(records.length - 1, Math.floor(random() * records.length))] as WeightedRecord;
  let point = random() * total;
  for (const record of records) {
    if (record.weight === 0) continue;
    if (point < record.weight) return record;
    point -= record.weight;
  }
  // random() just below 1 with rounding: the last record with weight.
  return records.findLast((r) => r.weight > 0) as WeightedRecord;
}

/**
 * The records the stand-in chooses from, read through `list` at most once every `maxAgeMs`
 * (every client asking moto for every resolution would measure moto, not the cutover); callers
 * that ask while a read is under way share it. Records due for a read are still given at once
 * while the read runs (a name server answers from what it holds while it syncs), so a slow moto
 * on a loaded machine delays what DNS serves, not the answers; past `staleLimitMs` callers wait
 * for the read, and its failure is theirs.
 */
export function cachedRecordSource(
  list: () => Promise<WeightedRecord[]>,
  maxAgeMs: number,
  now: () => number = Date.now,
  staleLimitMs = 10 * maxAgeMs,
) {
  let cached: { at: number; records: WeightedRecord[] } | undefined;
  let inFlight: Promise<WeightedRecord[]> | undefined;
  const read = () =>
    (inFlight ??= list()
      .then((records) => {
        cached = { at: now(), records };
        return records;
      })
      .finally(() => {
        inFlight = undefined;
      }));
  return async function records(): Promise<WeightedRecord[]> {
    const age = cached ? now() - cached.at : Number.POSITIVE_INFINITY;
    if (cached && age < maxAgeMs) return cached.records;
    if (cached && age < staleLimitMs) {
      read().catch(() => {}); // a failed read leaves the records as they were, until the stale limit
      return cached.records;
    }
    return read();
  };
}

/**
 * A client's stub resolver: an answer is kept for its record's TTL, then asked for again. The
 * first answer is kept for a random part of the TTL (`random` in [0, 1)), as if it had been cached
 * a while already: clients that all start at once would otherwise expire in lockstep, which no
 * real population of resolvers does.
 */
export function cachingResolver(
  answer: () => Promise<Pick<WeightedRecord, 'value' | 'ttlSeconds'>>,
  now: () => number = Date.now,
  random: () => number = Math.random,
) {
  let cached: { hostname: string; expiresAt: number } | undefined;
  let first = true;
  return async function resolve(): Promise<string> {
    if (cached && now() < cached.expiresAt) return cached.hostname;
    const record = await answer();
    const ttlMs = record.ttlSeconds * 1000;
    cached = { hostname: record.value, expiresAt: now() + (first ? random() * ttlMs : ttlMs) };
    first = false;
    return record.value;
  };
}

/**
 * A client's connection: which load balancer it is talking to. A DNS-following client connects
 * wherever its resolver says now; a keep-alive client keeps its connection for `holdMs` whatever
 * DNS says (an HTTP client with a long-lived pooled connection), then resolves again; its first
 * connection is kept for a random part of `holdMs`, so that connections do not all turn over
 * together. A failed request, or a response with `Connection: close`, drops the connection
 * (`drop`), so the next request resolves again, like a real client reconnecting. `opened` counts
 * the connections a keep-alive client has opened, so the caller can give each its own socket.
 */
export function clientConnection(
  resolve: () => Promise<string>,
  holdMs: number | undefined,
  now: () => number = Date.now,
  random: () => number = Math.random,
) {
  let open: { hostname: string; closesAt: number } | undefined;
  let first = true;
  let opened = 0;
  return {
    get opened() {
      return opened;
    },
    async hostname(): Promise<string> {
      if (holdMs === undefined) return resolve();
      if (open && now() < open.closesAt) return open.hostname;
      const hostname = await resolve();
      open = { hostname, closesAt: now() + (first ? random() * holdMs : holdMs) };
      first = false;
      opened += 1;
      return hostname;
    },
    drop(): void {
      open = undefined;
    },
  };
}
