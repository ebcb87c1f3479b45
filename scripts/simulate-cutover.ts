// `npm run simulate:cutover`: a full Route53 weighted cutover from blue to green under steady
// load. Not a test: the figures depend on the machine. It starts the two-cluster platform
// (scripts/platform/two-clusters.ts, as `npm start` does, without the event pipeline:
// reservation-api + query-api per cluster; with Prometheus for the settle rule, SIM_SETTLE) and virtual clients that resolve the weighted
// name through its DNS stand-in like caching resolvers. It runs the cutover, prints per
// step the configured vs observed share and the failed requests, stops blue and keeps the load on
// a little. Exits 0 when the targets are met (no failed request; each settled step within
// ±SIM_TOLERANCE points), 1 otherwise. Knobs: scripts/cutover-sim/settings.ts, docs/benchmarks.md.
import { setTimeout as sleep } from 'node:timers/promises';
import { CUTOVER_REQUEST_ANNOTATION } from '@reservations/operator/api';
import { formatPreviewEta, type PlanPreview, previewPlan } from '@reservations/operator/plan-preview';
import { calledBy, elapsed, quantile, type Route53Call, waitUntil } from '@reservations/testkit';
import {
  describeFailures,
  describeRoute53Calls,
  formatTable,
  isFailure,
  type RequestRecord,
  route53CallsPerSecond,
  shareByStep,
  verdict,
} from './cutover-sim/accounting.ts';
import { cutoverSteps, describeExternalDns, describeRoute53, simSettings } from './cutover-sim/settings.ts';
import { type CutoverObservation, stepWindowTracker } from './cutover-sim/windows.ts';
import { CLUSTER_NAMES, OPERATOR_APP_IDS, startTwoClusterPlatform } from './platform/two-clusters.ts';

const settings = simSettings(process.env);
const TTL_MS = settings.ttlSeconds * 1000;
const started = Date.now();
const progress = (message: string) => process.stderr.write(`[sim ${elapsed(started).padStart(6)}] ${message}\n`);

// biome-ignore lint/suspicious/noExplicitAny: the script reads deep into the Reservation's status JSON
type Json = any;

// The platform without the event pipeline (no sqs: no relay, no notifier): nothing here reads
// it; Prometheus only for the settle rule, which reads both clusters' request rates.
const platform = startTwoClusterPlatform({
  ttlSeconds: settings.ttlSeconds,
  components: ['mysql', 'redis', 'aws', 'kube', ...(settings.settle ? (['prometheus'] as const) : [])],
  progress,
  route53: settings.route53,
  ...(settings.externalDns ? { externalDns: settings.externalDns } : {}),
});
// Everything started, stopped in reverse on the way out (also on Ctrl-C).
const cleanups: (() => Promise<void> | void)[] = [() => platform.stop()];
let cleaning: Promise<void> | undefined;
let interrupted = false;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        progress(`cleanup: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping everything`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function simulate(): Promise<boolean> {
  progress(
    `settings: TTL ${settings.ttlSeconds}s, steps ${settings.shares.join(', ')}% with ${settings.pauseSeconds}s ${settings.manualPauses ? 'manual ' : ''}pauses, ` +
      `${settings.clients} clients at ${settings.rate} req/s (${Math.round(settings.readShare * 100)}% reads), ` +
      `${Math.round(settings.keepAliveShare * 100)}% of clients keep their connection ${settings.keepAliveTtls}×TTL, blue stops when ${settings.blueStop}` +
      (settings.externalDns ? `; ${describeExternalDns(settings.externalDns)}` : ''),
  );
  const p = await platform.ready;
  const green = {
    reservation: () => p.reservation('green'),
    patch: (body: Record<string, unknown>) => p.patchReservation('green', body),
  };

  progress(`load: ${settings.clients} clients at ${settings.rate} req/s, resolving through the DNS stand-in`);
  const load = p.startLoad({
    clients: settings.clients,
    rate: settings.rate,
    readShare: settings.readShare,
    keepAliveShare: settings.keepAliveShare,
    keepAliveHoldMs: settings.keepAliveTtls * TTL_MS,
  });
  cleanups.push(() => load.stop());
  let loadError: unknown;
  load.running.catch((err: unknown) => {
    loadError = err;
  });
  await sleep(2 * TTL_MS); // steady state on blue before anything moves

  const steps = cutoverSteps(settings);
  progress(`cutover: ${steps.map((s) => (s.setShare !== undefined ? `${s.setShare}%` : 'pause')).join(' → ')}`);
  const drain = { ttls: settings.drainTtls, connectionClose: settings.connectionClose };
  // The platform's Prometheus labels each stack's pods cluster="blue" / "green".
  const settle = settings.settle
    ? {
        prometheus: { url: p.harness.env.PROMETHEUS_URL, label: 'cluster', thisCluster: 'green', peerCluster: 'blue' },
        // Prometheus scrapes every second here: a 10 s window follows a step within seconds.
        settle: { window: '10s', maxWait: `${settings.settleMaxWaitSeconds}s` },
      }
    : {};
  progress(
    settings.settle
      ? `settle: a step counts once green's observed share (Prometheus) is within ±3 points, at most ${settings.settleMaxWaitSeconds}s after its TTL`
      : 'settle: off (SIM_SETTLE=0): steps count once in sync for a TTL',
  );
  await green.patch({ spec: { traffic: { cutover: { from: CLUSTER_NAMES.blue, steps, drain, ...settle } } } });
  const cutoverStarted = Date.now();
  const preview = await simPreview(green.reservation);
  progress(`plan preview: ETA ${formatPreviewEta(preview)} (Route53: ${describeRoute53(settings.route53)})`);
  const tracker = stepWindowTracker(settings.shares, settings.ttlSeconds, settings.settle ? 'traffic' : 'ttl');
  const insyncMs = settings.route53.insyncDelayMs?.max ?? 0;
  const settleMs = settings.settle ? settings.settleMaxWaitSeconds * 1000 : 0;
  const budgetMs = 180_000 + settings.shares.length * (settings.pauseSeconds * 1000 + 4 * TTL_MS + 15_000 + 2 * insyncMs + settleMs);
  let succeededAt: number | undefined;
  let lastLine = '';
  let lastTick = 0;
  let promotes = 0;
  while (succeededAt === undefined) {
    if (interrupted) throw new Error('interrupted');
    if (loadError) throw loadError;
    if (Date.now() - cutoverStarted > budgetMs) throw new Error(`the cutover did not succeed within ${Math.round(budgetMs / 1000)}s`);
    const cutover: (CutoverObservation & Json) | undefined = (await green.reservation()).status?.traffic?.cutover;
    const now = Date.now();
    if (cutover) {
      tracker.observe(cutover, now);
      const line = `${cutover.phase} step ${Math.min(cutover.step + 1, cutover.steps)}/${cutover.steps} at ${cutover.share}%: ${cutover.message}`;
      if (line !== lastLine || now - lastTick > 10_000) {
        progress(`${line} | ${recentShare(load.records, now)}`);
        lastLine = line;
        lastTick = now;
      }
      if (cutover.phase === 'Aborted') throw new Error(`the cutover aborted: ${cutover.message}`);
      if (cutover.phase === 'Succeeded') succeededAt = now;
      // A pause without a duration waits for a promote: give it one after SIM_PAUSE, as an SRE would.
      const manual = steps[cutover.step]?.pause !== undefined && settings.manualPauses && cutover.phase === 'Paused';
      if (manual && now - Date.parse(cutover.stepStartedAt) >= settings.pauseSeconds * 1000) {
        promotes += 1;
        progress(`promote/${promotes}`);
        await green.patch({ metadata: { annotations: { [CUTOVER_REQUEST_ANNOTATION]: `promote/${promotes}` } } });
        await waitUntil(
          'promote handled',
          async () => (await green.reservation()).status?.traffic?.cutover?.handledRequest === `promote/${promotes}`,
        );
      }
    }
    await sleep(500);
  }

  // Blue goes away: at once, or once it has had no request for a TTL (the peer's request rate at 0).
  if (settings.blueStop === 'idle') {
    const capMs = 10 * TTL_MS;
    progress(`Succeeded; waiting until blue has had no request for one TTL (at most ${capMs / 1000}s)`);
    while (Date.now() - succeededAt < capMs) {
      const lastBlue = load.records.findLast((r) => r.stack === 'blue')?.at ?? 0;
      if (Date.now() - lastBlue >= TTL_MS) break;
      await sleep(250);
    }
  }
  const blueStoppedAt = Date.now();
  tracker.close(blueStoppedAt);
  progress(`stopping blue's services (SIGTERM), ${Math.round((blueStoppedAt - succeededAt) / 1000)}s after Succeeded`);
  await Promise.all(p.clusters.blue.services.map((s) => s.server.stop()));
  const blueExitedAt = Date.now();
  progress(`blue is gone; load goes on for ${settings.afterTtls}×TTL`);
  await sleep(settings.afterTtls * TTL_MS);
  await load.stop();
  if (loadError) throw loadError;

  const real = (succeededAt - cutoverStarted) / 1000;
  const etaLine =
    `plan preview ETA      ${preview.etaSeconds}s; real patch → Succeeded ${real.toFixed(1)}s ` +
    `(ETA / real = ${(preview.etaSeconds / real).toFixed(3)}, ${(((preview.etaSeconds - real) / real) * 100).toFixed(1)}%)`;
  // The operators' calls apart from ExternalDNS', by their SDK's app id.
  const by = (appIds: readonly string[]) => (calls: readonly Route53Call[]) => calls.filter((c) => appIds.some((id) => calledBy(c, id)));
  const operatorCalls = by(Object.values(OPERATOR_APP_IDS))(p.route53Front.calls);
  const route53 = {
    operators: describeRoute53Calls(operatorCalls, cutoverStarted, succeededAt),
    perSecond: route53CallsPerSecond(operatorCalls, cutoverStarted, succeededAt),
    neighbours: p.neighbours.map(
      (n) =>
        `${n.appId} ${describeRoute53Calls(by([n.appId])(p.route53Front.calls), cutoverStarted, succeededAt)}; ${n.servicesMade()} Services made and deleted in all`,
    ),
  };
  return report(
    load.records,
    tracker.windows(),
    { succeededAt, blueStoppedAt, blueExitedAt, drainOnAt: p.clusters.blue.drainOnAt(), route53 },
    etaLine,
  );
}

function report(
  all: readonly RequestRecord[],
  windows: ReturnType<ReturnType<typeof stepWindowTracker>['windows']>,
  at: {
    succeededAt: number;
    blueStoppedAt: number;
    blueExitedAt: number;
    drainOnAt: number | undefined;
    route53: { operators: string; perSecond: number; neighbours: string[] };
  },
  etaLine: string,
): boolean {
  const steps = shareByStep(all, windows);
  const failures = all.filter(isFailure);
  const afterStop = all.filter((r) => r.at >= at.blueStoppedAt);
  const afterExit = all.filter((r) => r.at >= at.blueExitedAt);
  const blueLate = all.filter((r) => r.stack === 'blue' && r.at >= at.succeededAt);
  const unexpected = all.filter((r) => r.status !== undefined && r.status >= 400 && r.status < 500);
  const p99 = quantile(
    all.filter((r) => !isFailure(r)).map((r) => r.latencyMs),
    0.99,
  );
  // The operators' budget matters on an account with a rate (AWS's 5/s, shared with ExternalDNS and the rest).
  const limited = settings.route53.requestsPerSecond !== undefined;
  const result = verdict(
    steps,
    failures,
    settings.tolerance,
    limited ? { perSecond: at.route53.perSecond, max: settings.maxOperatorCallsPerSecond } : undefined,
  );
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const sinceSucceeded = (t: number) => `${seconds(t - at.succeededAt)} after Succeeded`;
  process.stdout.write(
    [
      '',
      `Cutover blue → green, TTL ${settings.ttlSeconds}s, ${settings.clients} clients at ${settings.rate} req/s, ` +
        `${Math.round(settings.keepAliveShare * 100)}% of them keep their connection ${settings.keepAliveTtls}×TTL.`,
      settings.settle
        ? 'observed = green’s share of the requests sent from when the operator settled the step (its observed share within ±3 points, or settle.maxWait) until the next step’s weights were written; operator = the observed share it settled on (Prometheus)'
        : 'observed = green’s share of the requests sent from one TTL after the step was INSYNC until the next step’s weights were written',
      'se = the observed share’s sampling standard error, each client one cluster (it keeps its weighted answer for a TTL): a perfect operator’s window falls within 2 se of its share about 95% of the time',
      formatTable(steps),
      '',
      `requests              ${all.length}`,
      `failed requests       ${failures.length}${failures.length ? ` (${describeFailures(failures)})` : ''}` +
        `; of them after blue's SIGTERM: ${afterStop.filter(isFailure).length}`,
      `other 4xx             ${unexpected.length}`,
      `Route53 (operators)   ${at.route53.operators}, from the start to Succeeded; Route53: ${describeRoute53(settings.route53)}`,
      ...at.route53.neighbours.map((line) => `Route53 (ExternalDNS) ${line}`),
      `p99 latency           ${p99 ?? '-'} ms`,
      `blue after Succeeded  ${blueLate.length} request(s) from ${new Set(blueLate.map((r) => r.client)).size} client(s)` +
        (blueLate.length ? `, the last ${sinceSucceeded(blueLate.at(-1)?.at ?? 0)}` : ''),
      `blue's drain switch   ${
        at.drainOnAt === undefined
          ? settings.connectionClose
            ? 'never turned on'
            : 'off (SIM_CONNECTION_CLOSE=0)'
          : `on ${seconds(at.succeededAt - at.drainOnAt)} before Succeeded: blue's services answered Connection: close`
      }`,
      `blue stopped          SIGTERM ${sinceSucceeded(at.blueStoppedAt)}, exited ${sinceSucceeded(at.blueExitedAt)}; ` +
        `after it exited: ${afterExit.length} requests, ${afterExit.filter((r) => r.stack === 'blue').length} to blue, ${afterExit.filter(isFailure).length} failed`,
      etaLine,
      result.ok ? 'targets met' : `targets missed: ${result.reasons.join('; ')}`,
      '',
    ].join('\n'),
  );
  return result.ok;
}

/**
 * The operator's preview of the plan as green's API server holds it (the CRD's defaults filled
 * in), from the simulation's own facts: green at 0 %, the Route53 stand-in's mean INSYNC delay, the load's rates.
 */
async function simPreview(reservation: () => Promise<Json>): Promise<PlanPreview> {
  const cr = await reservation();
  const traffic = cr.spec.traffic;
  const reads = settings.rate * settings.readShare;
  return previewPlan(traffic.cutover, {
    self: traffic.cluster,
    ttlSeconds: traffic.dns.ttl,
    startShare: 0,
    route53SyncSeconds: ((settings.route53.insyncDelayMs?.min ?? 0) + (settings.route53.insyncDelayMs?.max ?? 0)) / 2000,
    podStartSeconds: 0,
    rates: { queryApi: reads, reservationApi: settings.rate - reads },
    services: cr.spec.services,
  });
}

/** Green's share of the requests sent in the last TTL, and their failures: the progress line's tail. */
function recentShare(records: readonly RequestRecord[], now: number): string {
  const recent = records.filter((r) => r.at >= now - TTL_MS);
  if (recent.length === 0) return 'no requests yet';
  const green = recent.filter((r) => r.stack === 'green').length;
  return `last ${settings.ttlSeconds}s: ${recent.length} req, green ${((green * 100) / recent.length).toFixed(1)}%, ${recent.filter(isFailure).length} failed; total ${records.length}, ${records.filter(isFailure).length} failed`;
}

// Last, so that every declaration above is initialised before it runs.
try {
  process.exitCode = (await simulate()) ? 0 : 1;
} catch (err) {
  // After Ctrl-C, whatever the run was waiting for fails as its servers go: not worth a stack trace.
  if (!interrupted) progress(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
