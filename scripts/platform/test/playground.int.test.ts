import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { dashboardPage } from '@reservations/operator/testing';
import { installChromium, kubeBinary, repoRoot, run, waitUntil } from '@reservations/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { describeFailures, isFailure, type RequestRecord, shareByStep, verdict } from '../../cutover-sim/accounting.ts';
import { type CutoverObservation, stepWindowTracker } from '../../cutover-sim/windows.ts';
import type { LoadCounts } from '../load-control.ts';
import { PLAYGROUND_DEFAULTS, SAMPLE_CUTOVER } from '../playground.ts';
import { CLUSTER_NAMES, NAMESPACE, RESERVATION } from '../two-clusters.ts';

/**
 * The playground the README's way: `npm start` in the repository, then what an SRE rehearses on
 * it: a short cutover through the plugin, then the console (the plugin's dashboard the playground
 * serves) in Debian's Chromium, driven by playwright-core, against the same two clusters: a
 * cutover back started, paused, resumed and aborted from the page, another run to Succeeded while
 * the observed share follows, and Prometheus and a cluster gone. Generous bounds on time (a
 * loaded 2-core machine), none on speed.
 */

const TTL_MS = PLAYGROUND_DEFAULTS.ttlSeconds * 1000;
const MINUTE = 60_000;
/** How long the 50% step is held, once its settled window has opened, before it is promoted. */
const HOLD_MS = 30_000;
const { blue: BLUE, green: GREEN } = CLUSTER_NAMES;

// The settings the jest harness exported are for its own servers: the playground starts its own.
const HARNESS_EXPORTS = /^(MYSQL_|REDIS_|SQS_|AWS_|PROMETHEUS_|KUBECONFIG$|HARNESS_DIR$|HARNESS_COMPONENTS$|NODE_OPTIONS$)/;
// The console on a free port: 3100, its default, may be taken on a machine running other tests.
const childEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !HARNESS_EXPORTS.test(k))),
  PLAYGROUND_CONSOLE_PORT: '0',
};

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;

let playground: ChildProcess | undefined;
let output = '';
let env: Record<string, string> = {};
let runDir = '';
let browser: Browser | undefined;
let page: Page;
const exited = () => playground?.exitCode !== null || playground?.signalCode !== null;

/** `export NAME='value'` lines as a record. */
function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    [...readFileSync(file, 'utf8').matchAll(/^export (\w+)='((?:[^']|'\\'')*)'/gm)].map((m) => [
      m[1] ?? '',
      (m[2] ?? '').replaceAll("'\\''", "'"),
    ]),
  );
}

const kubectl = (...args: string[]) => run(kubeBinary('kubectl'), args, { env: { ...childEnv, KUBECONFIG: env.KUBECONFIG } });
// The plugin as kubectl runs it, with the kubeconfig and a context, as the README says.
const plugin = (...args: string[]) =>
  run(join(repoRoot, 'operator', 'bin', 'kubectl-reservation'), args, { env: { ...childEnv, KUBECONFIG: env.KUBECONFIG } });
const view = async (context: string) => JSON.parse((await plugin('status', RESERVATION, '--context', context, '-o', 'json')).stdout);
const reservation = async (context: string): Promise<Json> =>
  JSON.parse((await kubectl('--context', context, 'get', 'rsv', RESERVATION, '-o', 'json')).stdout);
const load = async () => (await (await fetch(`${env.PLAYGROUND_LOAD_URL}/load`)).json()) as LoadCounts;

/** Waits until `context`'s cutover `holds`; a timeout says where it stood and its last events. */
function untilCutover(what: string, context: string, holds: (cutover: Json) => boolean, timeoutMs: number) {
  return waitUntil(
    what,
    async () => {
      const c = (await reservation(context)).status?.traffic?.cutover;
      if (c && holds(c)) return true;
      const recent = (c?.history ?? []).slice(-3).map((h: Json) => `${h.event}: ${h.message}`);
      throw new Error(
        c ? `${c.phase} at step ${c.step}, share ${c.share}: ${c.message}; last events: ${recent.join(' | ')}` : 'no cutover',
      );
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

/** The pids of this playground's processes whose command line has `fragment` (its run directory is in their arguments). */
function processesWith(fragment: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
          .split('\0')
          .some((arg) => arg.includes(fragment));
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function killAll(what: string, fragment: string): void {
  const pids = processesWith(fragment);
  if (pids.length === 0) throw new Error(`no process of ${what} has "${fragment}" in its command line`);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
}

// The console in the browser.
const { cluster, phaseIn, notice, shows, click, confirm, startCutoverFromPage, observedShown } = dashboardPage(() => page, {
  showTimeoutMs: 30_000,
});

/** When each cutover phase of `context`'s Reservation first reached the test, through a watch of its own. */
async function watchPhases(context: string): Promise<{ seen: Map<string, number>; stop(): void }> {
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG ?? '');
  kc.setCurrentContext(context);
  const seen = new Map<string, number>();
  const watching = await new Watch(kc).watch(
    `/apis/platform.reservations.dev/v1alpha1/namespaces/${NAMESPACE}/reservations`,
    { fieldSelector: `metadata.name=${RESERVATION}` },
    (_type: string, cr: Json) => {
      const phase = cr?.status?.traffic?.cutover?.phase;
      if (phase && !seen.has(phase)) seen.set(phase, Date.now());
    },
    () => {},
  );
  return { seen, stop: () => watching.abort() };
}

beforeAll(async () => {
  const chromiumPath = installChromium();
  playground = spawn('npm', ['start'], { cwd: repoRoot, env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  playground.stdout?.on('data', (d: Buffer) => {
    output += d;
  });
  playground.stderr?.on('data', (d: Buffer) => {
    output += d;
  });
  let envPath = '';
  // An npm start that exits fails the wait at once, not after its timeout.
  let stopWaiting = () => {};
  const exitedEarly = new Promise<never>((_, reject) => {
    const onExit = () => reject(new Error(`npm start exited before it was up:\n${output.slice(-3000)}`));
    playground?.once('exit', onExit);
    stopWaiting = () => playground?.off('exit', onExit);
  });
  try {
    await Promise.race([
      exitedEarly,
      waitUntil(
        'npm start says the playground is up',
        () => {
          envPath = /source (\S+playground\.env)/.exec(output)?.[1] ?? '';
          return envPath !== '';
        },
        { timeoutMs: 8 * MINUTE, intervalMs: 500 },
      ),
    ]);
  } finally {
    stopWaiting();
  }
  env = readEnvFile(envPath);
  runDir = join(envPath, '..');
  browser = await chromium.launch({ executablePath: await chromiumPath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
}, 10 * MINUTE);

afterAll(async () => {
  await browser?.close();
  // Only when a test failed half-way: the last test stops it with Ctrl-C.
  if (playground?.pid && !exited()) {
    process.kill(-playground.pid, 'SIGTERM');
    await waitUntil('the playground stopped', () => exited(), { timeoutMs: MINUTE }).catch(() =>
      process.kill(-(playground?.pid ?? 0), 'SIGKILL'),
    );
  }
}, 2 * MINUTE);

describe('npm start, the cutover playground', () => {
  it(
    'is up as its summary says: blue at 100 and green at 0, the load on blue, the console showing both clusters',
    async () => {
      const consoleUrl = env.PLAYGROUND_CONSOLE_URL ?? '';
      expect(output).toContain(consoleUrl);
      expect((await view('blue')).record).toMatchObject({ setIdentifier: BLUE, verifiedWeight: 100 });
      expect((await view('green')).record).toMatchObject({ setIdentifier: GREEN, verifiedWeight: 0 });
      await waitUntil('the load has sent requests to blue', async () => ((await load()).byCluster.blue?.requests ?? 0) > 0, {
        timeoutMs: MINUTE,
      });
      // The printed command's sample plan is one the API server takes.
      await kubectl(
        '--context',
        'green',
        'patch',
        'rsv',
        RESERVATION,
        '--type',
        'merge',
        '--patch-file',
        join(repoRoot, SAMPLE_CUTOVER),
        '--dry-run=server',
      );

      await page.goto(consoleUrl);
      await waitUntil(
        'both clusters shown, Idle',
        async () => (await phaseIn('blue').textContent()) === 'Idle' && (await phaseIn('green').textContent()) === 'Idle',
      );
      await expect(cluster('blue').locator('h2').textContent()).resolves.toContain(`set identifier ${BLUE}`);
      await expect(cluster('green').locator('h2').textContent()).resolves.toContain(`set identifier ${GREEN}`);
      await waitUntil(
        'blue receives all the traffic, as Prometheus sees it',
        async () => {
          const shown = await observedShown('blue');
          if (shown === 100) return true;
          throw new Error(`it shows ${shown}%`);
        },
        { timeoutMs: 2 * MINUTE },
      );
      await expect(page.locator('#live').textContent()).resolves.toBe('live');
    },
    5 * MINUTE,
  );

  it(
    'runs a cutover from blue to green through the plugin with no failed request and each step’s share as configured',
    async () => {
      // A short plan: half the traffic, held until an SRE promotes it, then all of it.
      const planDir = mkdtempSync(join(tmpdir(), 'playground-test-'));
      const plan = join(planDir, 'cutover.yaml');
      writeFileSync(
        plan,
        JSON.stringify({
          spec: {
            traffic: {
              cutover: {
                from: BLUE,
                steps: [{ setShare: 50 }, { pause: {} }, { setShare: 100 }],
                drain: { ttls: 2, connectionClose: true },
              },
            },
          },
        }),
      );
      const cutoverStartedAt = Date.now();
      await kubectl('--context', 'green', 'patch', 'rsv', RESERVATION, '--type', 'merge', '--patch-file', plan);
      rmSync(planDir, { recursive: true, force: true });

      const tracker = stepWindowTracker([50, 100], PLAYGROUND_DEFAULTS.ttlSeconds);
      const observe = async (): Promise<CutoverObservation & { phase: string }> => {
        const cutover = (await reservation('green')).status?.traffic?.cutover as (CutoverObservation & { phase: string }) | undefined;
        if (!cutover) throw new Error('no cutover in green’s status yet');
        tracker.observe(cutover, Date.now());
        return cutover;
      };
      // Promote once the 50% step has been settled a while and blue knows green writes its weight
      // (blue's operator looks at Route53 again within its drift check).
      await waitUntil(
        'the 50% step held and blue handed over',
        async () => {
          const cutover = await observe();
          const open = tracker.windows(Date.now()).find((w) => w.share === 50);
          if (cutover.phase !== 'Paused' || !open || Date.now() - open.from < HOLD_MS) return false;
          return (await view('blue')).handover !== undefined;
        },
        { timeoutMs: 5 * MINUTE, intervalMs: 1000 },
      );
      await plugin('promote', RESERVATION, '--context', 'green');
      await waitUntil(
        'the cutover Succeeded',
        async () => {
          await observe();
          return (await view('green')).phase === 'Succeeded';
        },
        { timeoutMs: 5 * MINUTE, intervalMs: 1000 },
      );
      // The last step's settled window: a few TTLs of traffic all on green.
      const succeededAt = Date.now();
      await waitUntil('three TTLs after Succeeded', () => Date.now() - succeededAt >= 3 * TTL_MS, { timeoutMs: MINUTE, intervalMs: 500 });
      await observe();
      tracker.close(Date.now());

      const records = (await (await fetch(`${env.PLAYGROUND_LOAD_URL}/records?since=${cutoverStartedAt}`)).json()) as RequestRecord[];
      const steps = shareByStep(records, tracker.windows());
      expect(steps.map((s) => s.share)).toEqual([50, 100]);
      expect(verdict(steps, records.filter(isFailure), 5).reasons).toEqual([]);
      const counts = await load();
      expect(counts.refused).toBe(0);
      expect(counts.byCluster.green?.requests).toBeGreaterThan(0);
      // Since npm start, warm-up included: said, not asserted (a loaded machine may time a first request out).
      const all = (await (await fetch(`${env.PLAYGROUND_LOAD_URL}/records?since=0`)).json()) as RequestRecord[];
      process.stderr.write(
        `playground cutover: ${steps.map((s) => `${s.share}% → observed ${s.observed}% (${s.requests} requests)`).join(', ')}; ` +
          `${records.length} requests during the cutover, ${records.filter(isFailure).length} failed; since npm start ` +
          `${counts.requests} requests, ${counts.failures} failed (${describeFailures(all.filter(isFailure)) || 'none'})\n`,
      );
    },
    12 * MINUTE,
  );

  // The console in Chromium, on the same clusters (in this order: each goes on from where the last left off).
  it('refuses a verb the cutover cannot take now, with its reason, and changes nothing', async () => {
    await shows("green's phase", phaseIn('green'), 'Succeeded');
    await click('blue', 'pause');
    await shows("blue's notice", notice('blue'), /^refused: cannot pause .*booking: no cutover: spec.traffic.cutover is not set/);
    expect((await reservation('blue')).metadata.annotations?.['platform.reservations.dev/cutover-request']).toBeUndefined();
  });

  it(
    'starts a cutover back to blue from the page, pauses and resumes its analysis there, then aborts it: it walks back to 0',
    async () => {
      // An analysis whose second look is 10 minutes away holds the cutover in Analyzing, where pause is allowed, as long as the test needs.
      // Its thresholds pass whatever this machine's load does to latency: it is a place to pause, not a judge.
      await startCutoverFromPage('blue', {
        from: GREEN,
        steps: [{ setShare: 20 }, { analysis: { template: 'watch' } }, { setShare: 100 }],
        analysis: [
          {
            name: 'watch',
            prometheus: { url: env.PROMETHEUS_URL },
            interval: '10m',
            count: 2,
            successRateMin: 0,
            latencyP99MaxMs: 3_600_000,
          },
        ],
        drain: { ttls: 1 },
      });
      await shows('the page shows blue Analyzing', phaseIn('blue'), 'Analyzing', 2 * MINUTE);

      // When the API server has the change (a watch of the test's own) against when the page shows it.
      const watch = await watchPhases('blue');
      try {
        await click('blue', 'pause');
        await shows("blue's notice", notice('blue'), /asked \(pause\/.*\): the operator will/);
        await shows('the page shows Paused', phaseIn('blue'), 'Paused');
        expect((await reservation('blue')).status?.traffic?.cutover).toMatchObject({ phase: 'Paused', held: true });
        const shownAt = Number(await phaseIn('blue').getAttribute('data-shown-at'));
        await waitUntil('the test saw Paused', () => watch.seen.has('Paused'));
        process.stderr.write(`console: status change (Paused) to the page showing it: ${shownAt - (watch.seen.get('Paused') ?? 0)} ms\n`);
      } finally {
        watch.stop();
      }

      await click('blue', 'resume');
      await shows('the page shows Analyzing again', phaseIn('blue'), 'Analyzing');
      expect((await reservation('blue')).status?.traffic?.cutover?.phase).toBe('Analyzing');
      expect(await cluster('blue').locator('ol.plan li.current').count()).toBe(1);

      await click('blue', 'abort');
      await shows('the confirmation', page.locator('#confirm-text'), /Abort the cutover of .*booking on blue\?/);
      await confirm();
      await untilCutover(
        'the abort walked back to 0',
        'blue',
        (c) => c.phase === 'Aborted' && !c.aborting && c.verifiedShare === 0,
        3 * MINUTE,
      );
      await shows('the page shows Aborted', phaseIn('blue'), 'Aborted');
      await click('blue', 'resume');
      await shows(
        "blue's notice",
        notice('blue'),
        /^refused: cannot resume .*: the cutover is aborted \(back at 0%\); retry starts it again/,
      );
    },
    8 * MINUTE,
  );

  it(
    'runs a cutover started from the page to Succeeded while the observed share follows the weights, with no failed request',
    async () => {
      const before = await load();
      // Held at 50 % until promoted from the page: the observed share has all the time it needs to get there.
      await startCutoverFromPage('blue', {
        from: GREEN,
        steps: [{ setShare: 50 }, { pause: {} }, { setShare: 100 }],
        drain: { ttls: 1 },
      });
      await untilCutover('blue at step 2 (50%)', 'blue', (c) => c.step === 1, 3 * MINUTE);
      await waitUntil(
        'the observed share near 50% on both sides',
        async () => {
          const [b, g] = [await observedShown('blue'), await observedShown('green')];
          if (b >= 30 && b <= 70 && g >= 30 && g <= 70) return true;
          throw new Error(`it shows blue ${b}%, green ${g}%`);
        },
        { timeoutMs: 2 * MINUTE },
      );
      // docs/dashboard.png is this picture: UPDATE_SCREENSHOTS=1 writes it there, otherwise it stays in the run directory.
      const docs = join(repoRoot, 'docs', 'dashboard.png');
      await page.screenshot({ path: process.env.UPDATE_SCREENSHOTS ? docs : join(runDir, 'dashboard.png'), fullPage: true });
      await click('blue', 'promote');
      await confirm();
      await shows('the page shows blue Succeeded', phaseIn('blue'), 'Succeeded', 3 * MINUTE);
      // Green keeps the 0 blue's cutover left it (once its operator looks again, within its drift
      // check), although the aborted cutover before had left it an override of 100.
      await waitUntil(
        "green keeps the weight blue's cutover left",
        async () => {
          const traffic = (await reservation('green')).status?.traffic;
          if (traffic?.weightOverride?.weight === 0 && traffic.verifiedWeight === 0) return true;
          throw new Error(
            `green's status: override ${JSON.stringify(traffic?.weightOverride)}, verified weight ${traffic?.verifiedWeight}`,
          );
        },
        { timeoutMs: 2 * MINUTE, intervalMs: 1000 },
      );
      // Prometheus's rate looks back a while: the share shown reaches blue's 100 % that much later.
      await waitUntil(
        'the observed share follows to blue',
        async () => {
          const shown = await observedShown('blue');
          if (shown >= 95) return true;
          throw new Error(`it shows ${shown}%`);
        },
        { timeoutMs: 2 * MINUTE },
      );
      const steps = await cluster('blue')
        .locator('ol.plan li')
        .evaluateAll((items) => items.map((li) => li.getAttribute('data-state')));
      expect(steps).toEqual(['done', 'done', 'done']);
      // The chart's step lines: both cutovers' starts, steps completed, the abort, the success.
      const chart = cluster('blue').getByTestId('chart');
      expect(Number(await chart.getAttribute('data-marks'))).toBeGreaterThanOrEqual(6);
      expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(30);
      const after = await load();
      expect(after.failures - before.failures).toBe(0);
    },
    10 * MINUTE,
  );

  it('refuses a POST from another origin, any API call without the token, and a rebound Host', async () => {
    const consoleUrl = env.PLAYGROUND_CONSOLE_URL ?? '';
    const token = (await page.locator('meta[name="dashboard-token"]').getAttribute('content')) ?? '';
    expect(token.length).toBeGreaterThan(20);
    const verb = `${consoleUrl}api/clusters/green/verbs/pause`;
    const foreign = await fetch(verb, { method: 'POST', headers: { origin: 'http://evil.example', 'x-dashboard-token': token } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { detail: string }).detail).toBe('a request from http://evil.example cannot steer this dashboard');
    const tokenless = await fetch(verb, { method: 'POST' });
    expect(tokenless.status).toBe(403);
    // A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding): its Host header gives it away.
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      const url = new URL(`${consoleUrl}api/state?token=${token}`);
      request(url, { headers: { host: `evil.example:${url.port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
  });

  it('says "cannot reach" when Prometheus is gone, with no figures shown as current', async () => {
    killAll("the playground's Prometheus", `--storage.tsdb.path=${runDir}`);
    await shows('the Prometheus banner', page.getByTestId('prometheus-banner'), /cannot reach Prometheus/);
    await shows("green's observed share", cluster('green').getByTestId('observed').locator('b'), 'cannot reach');
    await shows("green's request rate", cluster('green').getByTestId('rate').locator('b'), 'cannot reach');
  });

  it('says "cannot reach" when a cluster is gone, and keeps its last state marked as not current', async () => {
    // Green's control plane: its API server, etcd and kwok all keep their files under the run directory's green/.
    killAll("green's control plane", `${join(runDir, 'green')}/`);
    await shows("green's banner", cluster('green').getByTestId('cluster-banner'), /cannot reach green: .* Shown below: as it was at/);
    expect(await cluster('green').getAttribute('class')).toContain('stale');
    await shows("blue's phase", phaseIn('blue'), 'Succeeded');
  });

  it(
    'stops everything on Ctrl-C: nothing answers on any address the summary printed, and the run directory is gone',
    async () => {
      // SIGINT to the foreground process group, as a terminal sends it.
      const summary = output.slice(output.indexOf('The playground is up'));
      const addresses = [...new Set([...summary.matchAll(/https?:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0].replace('https:', 'http:')))];
      expect(addresses.length).toBeGreaterThanOrEqual(12); // 2 API servers, 2 operators, 6 services, the load, Prometheus, ...
      process.kill(-(playground?.pid ?? 0), 'SIGINT');
      await waitUntil('npm start exited after Ctrl-C', () => exited(), { timeoutMs: 2 * MINUTE, intervalMs: 500 });
      const refused = async (url: string) => {
        try {
          await fetch(url, { signal: AbortSignal.timeout(5000) });
          return false;
        } catch (err) {
          return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        }
      };
      for (const address of addresses)
        await waitUntil(`nothing answers on ${address}`, () => refused(address), { timeoutMs: MINUTE, intervalMs: 500 });
      if (!process.env.HARNESS_KEEP_DIR)
        await waitUntil(`${runDir} removed`, () => !existsSync(runDir), { timeoutMs: MINUTE, intervalMs: 500 });
    },
    5 * MINUTE,
  );
});
