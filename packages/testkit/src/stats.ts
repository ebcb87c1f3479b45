/**
 * The q-quantile (0..1) of `values` by the nearest-rank method (the smallest value with at least
 * q of the values at or below it); undefined for none. The one percentile of the benchmarks and the
 * cutover simulation, so their p50/p99 mean the same thing.
 */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
