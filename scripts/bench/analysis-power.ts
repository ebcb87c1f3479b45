// The peer analysis's error rates: `npm run bench:analysis` (a script, not a test; seconds).
// Simulated analyses with a seeded random source (the same simulation the unit tests use):
// green and blue share 100 requests/s at 50/50, the analysis reads the cumulative counts every
// 10 s and stops at its first verdict. It prints, per scenario, how often green was failed,
// passed or left inconclusive, against what the statistics promise (α = 1 − confidence).
import { type Scenario, simulateMany } from '@reservations/operator/testing';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const SEED = Number(process.env.BENCH_SEED ?? 18);
const confidence = 0.95;
const errorRate = { confidence, minRequests: 50, errorRate: { maxIncrease: 0.001 } };
const latency = { confidence, minRequests: 50, latency: { quantile: 0.99, maxIncreasePercent: 10 } };

const errors = (blue: number, green: number, maxSeconds: number, ratePerSecond = 100): Scenario => ({
  ratePerSecond,
  selfShare: 0.5,
  self: { errorRate: green },
  peer: { errorRate: blue },
  intervalSeconds: 10,
  maxSeconds,
  settings: errorRate,
});
const slower = (blue: number, green: number, maxSeconds: number): Scenario => ({
  ...errors(0, 0, maxSeconds),
  self: { errorRate: 0, latencyMedian: green, latencySigma: 0.5 },
  peer: { errorRate: 0, latencyMedian: blue, latencySigma: 0.5 },
  settings: latency,
});

interface Row {
  name: string;
  scenario: Scenario;
  runs: number;
  /** What the row checks, and the rate it must stay within. */
  promise: string;
  check: (r: ReturnType<typeof simulateMany>) => boolean;
}

const alpha = 1 - confidence;
const rows: Row[] = [
  ...[0, 0.001, 0.005, 0.05].map((rate) => ({
    name: `A/A error rate ${pct(rate)} on both, 10 min`,
    scenario: errors(rate, rate, 600),
    runs: RUNS,
    promise: `failed ≤ ${pct(alpha)}`,
    check: (r: ReturnType<typeof simulateMany>) => r.failed / r.runs <= alpha,
  })),
  {
    name: 'A/B +1 point (0.5% → 1.5%), 2 min',
    scenario: errors(0.005, 0.015, 120),
    runs: RUNS,
    promise: 'failed ≥ 90%',
    check: (r) => r.failed / r.runs >= 0.9,
  },
  {
    name: 'A/B +1 point (0.1% → 1.1%), 2 min',
    scenario: errors(0.001, 0.011, 120),
    runs: RUNS,
    promise: 'failed ≥ 90%',
    check: (r) => r.failed / r.runs >= 0.9,
  },
  {
    name: 'just past the allowance (0.5% → 0.65%), 10 min',
    scenario: errors(0.005, 0.0065, 600),
    runs: RUNS,
    promise: `passed ≤ ${pct(alpha)}`,
    check: (r) => r.ok / r.runs <= alpha,
  },
  {
    name: 'A/A no errors at 10 req/s, 10 min',
    scenario: errors(0, 0, 600, 10),
    runs: RUNS,
    promise: `failed ≤ ${pct(alpha)}`,
    check: (r) => r.failed / r.runs <= alpha,
  },
  {
    name: 'A/A p99 (both median 50 ms), 5 min',
    scenario: slower(0.05, 0.05, 300),
    runs: Math.ceil(RUNS / 10),
    promise: `failed ≤ ${pct(alpha)}`,
    check: (r) => r.failed / r.runs <= alpha,
  },
  {
    name: 'A/B p99 twice as slow, 2 min',
    scenario: slower(0.05, 0.1, 120),
    runs: Math.ceil(RUNS / 10),
    promise: 'failed ≥ 90%',
    check: (r) => r.failed / r.runs >= 0.9,
  },
];

function pct(share: number): string {
  return `${Number((share * 100).toFixed(2))}%`;
}

console.log(`peer analysis, ${pct(confidence)} confidence, error rate allowed +0.1 points, p99 allowed +10%; seed ${SEED}`);
console.log('scenario | runs | failed | passed | inconclusive | median s to verdict | promise | kept');
console.log('--- | --- | --- | --- | --- | --- | --- | ---');
let broken = 0;
for (const [i, row] of rows.entries()) {
  const r = simulateMany(row.scenario, row.runs, SEED + i);
  const kept = row.check(r);
  if (!kept) broken++;
  const median = Number.isNaN(r.medianSecondsToVerdict) ? '-' : String(r.medianSecondsToVerdict);
  console.log(
    `${row.name} | ${r.runs} | ${pct(r.failed / r.runs)} | ${pct(r.ok / r.runs)} | ${pct(r.inconclusive / r.runs)} | ${median} | ${row.promise} | ${kept ? 'yes' : 'NO'}`,
  );
}
process.exitCode = broken > 0 ? 1 : 0;
