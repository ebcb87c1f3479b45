/**
 * The rows of `batch` that may go now: a row goes only if every unsent row of its aggregate
 * with a smaller id is in this batch too. Another relay may hold an earlier row of the same
 * aggregate (it was locked when this pass skipped it); sending the later one first would
 * break the aggregate's order in its FIFO message group.
 */
export function sendable<R extends { id: string; aggregate_type: string; aggregate_id: string }>(
  batch: R[],
  unsentOfSameAggregates: { id: string; aggregate_type: string; aggregate_id: string }[],
): R[] {
  const mine = new Set(batch.map((r) => r.id));
  const firstForeign = new Map<string, bigint>();
  for (const r of unsentOfSameAggregates) {
    if (mine.has(r.id)) continue;
    const key = `${r.aggregate_type}:${r.aggregate_id}`;
    const id = BigInt(r.id);
    const known = firstForeign.get(key);
    if (known === undefined || id < known) firstForeign.set(key, id);
  }
  return batch.filter((r) => {
    const foreign = firstForeign.get(`${r.aggregate_type}:${r.aggregate_id}`);
    return foreign === undefined || BigInt(r.id) < foreign;
  });
}
