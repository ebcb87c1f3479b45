/**
 * The simulation's figures (pure): per cutover step, the share of requests green got while the
 * step was settled, against the share the step configured; failures and latency over the run.
 */

export type Stack = 'blue' | 'green';

export interface RequestRecord {
  /** When the request was sent (ms since the epoch). */
  at: number;
  /** The stack the request went to; undefined when the name did not resolve (nothing was sent). */
  stack?: Stack;
  client: number;
  /** The HTTP status, or undefined when there was no answer (connection refused, reset...). */
  status?: number;
  error?: string;
  latencyMs: number;
}

/** A setShare step's settled window: from one TTL after Route53 served it everywhere, until the next step's weights are written. */
export interface StepWindow {
  step: number;
  share: number;
  from: number;
  to: number;
  /** The operator's observed share when it settled the step (spec settle, from Prometheus), percent. */
  operatorObserved?: number;
}

export interface StepFigures extends StepWindow {
  requests: number;
  green: number;
  failures: number;
  /** Green's share of the window's requests in percent, one decimal; undefined without requests. */
  observed?: number;
  /** observed - share, in points. */
  difference?: number;
  /**
   * The observed share's sampling standard error, points, one decimal: clustered by client, since a
   * client keeps its weighted answer for a TTL, so its requests are not independent draws.
   * Undefined below two clients.
   */
  standardError?: number;
}

/** A failed request: no answer at all (or the name did not resolve), or a 5xx. */
export const isFailure = (r: RequestRecord) => r.status === undefined || r.status >= 500;

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Counts the requests sent within each window ([from, to)) by stack; the observed share is green's
 * of those that reached a stack (a failed resolution counts as a failure, not for either stack).
 */
export function shareByStep(requests: readonly RequestRecord[], windows: readonly StepWindow[]): StepFigures[] {
  return windows.map((w) => {
    const inWindow = requests.filter((r) => r.at >= w.from && r.at < w.to);
    const sent = inWindow.filter((r) => r.stack !== undefined).length;
    const green = inWindow.filter((r) => r.stack === 'green').length;
    const figures: StepFigures = { ...w, requests: inWindow.length, green, failures: inWindow.filter(isFailure).length };
    if (sent === 0) return figures;
    const observed = round1((green * 100) / sent);
    const standardError = clusteredStandardError(inWindow.filter((r) => r.stack !== undefined));
    return {
      ...figures,
      observed,
      difference: round1(observed - w.share),
      ...(standardError === undefined ? {} : { standardError: round1(standardError * 100) }),
    };
  });
}

/**
 * The standard error of green's share of `requests` (a fraction), with each client's requests as
 * one cluster (pure): the ratio estimator's sandwich variance, sum over clients of
 * (green_i - p * n_i)^2 / N^2, times k / (k - 1) for k clients. Undefined below two clients.
 */
export function clusteredStandardError(requests: readonly RequestRecord[]): number | undefined {
  const byClient = new Map<number, { n: number; green: number }>();
  let green = 0;
  for (const r of requests) {
    const c = byClient.get(r.client) ?? { n: 0, green: 0 };
    byClient.set(r.client, c);
    c.n += 1;
    if (r.stack !== 'green') continue;
    c.green += 1;
    green += 1;
  }
  const k = byClient.size;
  if (k < 2) return undefined;
  const n = requests.length;
  const p = green / n;
  let squares = 0;
  for (const c of byClient.values()) squares += (c.green - p * c.n) ** 2;
  return Math.sqrt((squares / n ** 2) * (k / (k - 1)));
}

export interface Verdict {
  ok: boolean;
  reasons: string[];
}

/** Failed requests by what went wrong: "blue TimeoutError: 12, green 503: 5", most frequent first. */
export function describeFailures(failures: readonly RequestRecord[]): string {
  const kinds = new Map<string, number>();
  for (const f of failures) {
    const kind = `${f.stack ?? 'unresolved'} ${f.error ?? f.status}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind}: ${n}`)
    .join(', ');
}

/**
 * The simulation's targets: no failed request, every step's observed share within `tolerance`
 * points, and, when given, the operators' own Route53 calls per second over the cutover at most
 * `route53.max` (on an account with a rate: its budget is shared with ExternalDNS and the rest).
 */
export function verdict(
  steps: readonly StepFigures[],
  failures: readonly RequestRecord[],
  tolerance: number,
  route53?: { perSecond: number; max: number },
): Verdict {
  const reasons: string[] = [];
  if (route53 && route53.perSecond > route53.max) {
    reasons.push(`the operators' Route53 calls ${route53.perSecond.toFixed(2)}/s over the cutover, target at most ${route53.max}/s`);
  }
  if (failures.length > 0) reasons.push(`${failures.length} failed request(s), target 0 (${describeFailures(failures)})`);
  for (const s of steps) {
    if (s.difference === undefined) reasons.push(`step ${s.step + 1} (${s.share}%): no request in its settled window`);
    else if (Math.abs(s.difference) > tolerance)
      reasons.push(
        `step ${s.step + 1} (${s.share}%): observed ${s.observed}%, ${s.difference} points off, target ±${tolerance}` +
          (s.standardError === undefined ? '' : ` (sampling standard error ${s.standardError} points)`),
      );
  }
  return { ok: reasons.length === 0, reasons };
}

/** The table the simulation prints. */
export function formatTable(steps: readonly StepFigures[]): string {
  const header = ['step', 'configured', 'observed', 'difference', 'se', 'operator', 'window', 'requests', 'failures'];
  const rows = steps.map((s) => [
    String(s.step + 1),
    `${s.share}%`,
    s.observed === undefined ? '-' : `${s.observed.toFixed(1)}%`,
    s.difference === undefined ? '-' : `${s.difference > 0 ? '+' : ''}${s.difference.toFixed(1)}`,
    s.standardError === undefined ? '-' : s.standardError.toFixed(1),
    s.operatorObserved === undefined ? '-' : `${s.operatorObserved.toFixed(1)}%`,
    `${Math.round((s.to - s.from) / 1000)}s`,
    String(s.requests),
    String(s.failures),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Route53 calls per second between `from` and `to` (a window under a second counts as one). */
export function route53CallsPerSecond(calls: readonly { at: number }[], from: number, to: number): number {
  return calls.filter((c) => c.at >= from && c.at < to).length / Math.max(1, (to - from) / 1000);
}

/** Route53 calls between `from` and `to`, in a line: how many, per second, and what was refused. */
export function describeRoute53Calls(calls: readonly { at: number; refused?: string }[], from: number, to: number): string {
  const within = calls.filter((c) => c.at >= from && c.at < to);
  const seconds = Math.max(1, (to - from) / 1000);
  const refused = new Map<string, number>();
  for (const c of within) if (c.refused) refused.set(c.refused, (refused.get(c.refused) ?? 0) + 1);
  const refusals = [...refused].map(([code, n]) => `${n} ${code}`).join(', ');
  return `${within.length} calls in ${Math.round(seconds)}s, ${(within.length / seconds).toFixed(2)}/s${refusals ? `; refused: ${refusals}` : ''}`;
}
