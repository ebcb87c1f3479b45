import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { kubeBinary, repoRoot, run, waitUntil } from '@reservations/testkit';
import { isFailure, type RequestRecord, shareByStep, verdict } from '../../cutover-sim/accounting.ts';
import { type CutoverObservation, stepWindowTracker } from '../../cutover-sim/windows.ts';
import type { LoadCounts } from '../load-control.ts';
import { PLAYGROUND_DEFAULTS, SAMPLE_CUTOVER } from '../playground.ts';
import { CLUSTER_NAMES } from '../two-clusters.ts';

/**
 * The playground the README's way: `npm start` in the repository, then a short cutover through
 * the plugin, as an SRE would rehearse one. Generous bounds on time (a loaded 2-core machine),
 * none on speed.
 */

const TTL_MS = PLAYGROUND_DEFAULTS.ttlSeconds * 1000;
const MINUTE = 60_000;
/** How long the 50% step is held, once its settled window has opened, before it is promoted. */
const HOLD_MS = 30_000;

// The settings the jest harness exported are for its own servers: the playground starts its own.
const HARNESS_EXPORTS = /^(MYSQL_|REDIS_|SQS_|AWS_|PROMETHEUS_|KUBECONFIG$|HARNESS_DIR$|HARNESS_COMPONENTS$|NODE_OPTIONS$)/;
// The console on a free port: 3100, its default, may be taken on a machine running other tests.
const childEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !HARNESS_EXPORTS.test(k))),
  PLAYGROUND_CONSOLE_PORT: '0',
};

let playground: ChildProcess | undefined;
let output = '';
const exited = () => playground?.exitCode !== null || playground?.signalCode !== null;

afterAll(async () => {
  // Only when the test failed half-way: the test itself stops it with Ctrl-C.
  if (playground?.pid && !exited()) {
    process.kill(-playground.pid, 'SIGTERM');
    await waitUntil('the playground stopped', () => exited(), { timeoutMs: MINUTE }).catch(() =>
      process.kill(-(playground?.pid ?? 0), 'SIGKILL'),
    );
  }
}, 2 * MINUTE);

/** `export NAME='value'` lines as a record. */
function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    [...readFileSync(file, 'utf8').matchAll(/^export (\w+)='((?:[^']|'\\'')*)'/gm)].map((m) => [
      m[1] ?? '',
      (m[2] ?? '').replaceAll("'\\''", "'"),
    ]),
  );
}

describe('npm start, the cutover playground', () => {
  it(
    'runs a cutover from blue to green through the plugin with no failed request and each step’s share as configured',
    async () => {
      playground = spawn('npm', ['start'], { cwd: repoRoot, env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      playground.stdout?.on('data', (d: Buffer) => {
        output += d;
      });
      playground.stderr?.on('data', (d: Buffer) => {
        output += d;
      });
      let envPath = '';
      await waitUntil(
        'npm start says the playground is up',
        () => {
          if (exited()) throw new Error(`npm start exited:\n${output.slice(-3000)}`);
          envPath = /source (\S+playground\.env)/.exec(output)?.[1] ?? '';
          return envPath !== '';
        },
        { timeoutMs: 8 * MINUTE, intervalMs: 500 },
      );
      const env = readEnvFile(envPath);
      const kubeconfig = env.KUBECONFIG ?? '';
      const loadUrl = env.PLAYGROUND_LOAD_URL ?? '';
      const runDir = join(envPath, '..');
      const kubectl = (...args: string[]) => run(kubeBinary('kubectl'), args, { env: { ...childEnv, KUBECONFIG: kubeconfig } });
      // The plugin as kubectl runs it, with the kubeconfig and a context, as the README says.
      const plugin = (...args: string[]) =>
        run(join(repoRoot, 'operator', 'bin', 'kubectl-reservation'), args, { env: { ...childEnv, KUBECONFIG: kubeconfig } });
      const view = async (context: string) => JSON.parse((await plugin('status', 'booking', '--context', context, '-o', 'json')).stdout);
      const load = async () => (await (await fetch(`${loadUrl}/load`)).json()) as LoadCounts;

      // The console answers on the URL the summary prints, with both clusters.
      const consoleUrl = env.PLAYGROUND_CONSOLE_URL ?? '';
      expect(output).toContain(consoleUrl);
      const page = await fetch(consoleUrl);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');

      // What the summary prints is there: both contexts, blue at 100 and green at 0, the load on blue.
      expect((await view('blue')).record).toMatchObject({ setIdentifier: CLUSTER_NAMES.blue, verifiedWeight: 100 });
      expect((await view('green')).record).toMatchObject({ setIdentifier: CLUSTER_NAMES.green, verifiedWeight: 0 });
      await waitUntil('the load has sent requests to blue', async () => ((await load()).byCluster.blue?.requests ?? 0) > 0, {
        timeoutMs: MINUTE,
      });
      // The printed command's sample plan is one the API server takes.
      await kubectl(
        '--context',
        'green',
        'patch',
        'rsv',
        'booking',
        '--type',
        'merge',
        '--patch-file',
        join(repoRoot, SAMPLE_CUTOVER),
        '--dry-run=server',
      );

      // A short plan: half the traffic, held until an SRE promotes it, then all of it.
      const planDir = mkdtempSync(join(tmpdir(), 'playground-test-'));
      const plan = join(planDir, 'cutover.yaml');
      writeFileSync(
        plan,
        JSON.stringify({
          spec: {
            traffic: {
              cutover: {
                from: CLUSTER_NAMES.blue,
                steps: [{ setShare: 50 }, { pause: {} }, { setShare: 100 }],
                drain: { ttls: 2, connectionClose: true },
              },
            },
          },
        }),
      );
      const cutoverStartedAt = Date.now();
      await kubectl('--context', 'green', 'patch', 'rsv', 'booking', '--type', 'merge', '--patch-file', plan);
      rmSync(planDir, { recursive: true, force: true });

      const tracker = stepWindowTracker([50, 100], PLAYGROUND_DEFAULTS.ttlSeconds);
      const observe = async (): Promise<CutoverObservation & { phase: string }> => {
        const cr = JSON.parse((await kubectl('--context', 'green', 'get', 'rsv', 'booking', '-o', 'json')).stdout);
        const cutover = cr.status?.traffic?.cutover as CutoverObservation | undefined;
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
      await plugin('promote', 'booking', '--context', 'green');
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

      const records = (await (await fetch(`${loadUrl}/records?since=${cutoverStartedAt}`)).json()) as RequestRecord[];
      const steps = shareByStep(records, tracker.windows());
      expect(steps.map((s) => s.share)).toEqual([50, 100]);
      expect(verdict(steps, records.filter(isFailure), 5).reasons).toEqual([]);
      // And over the whole run, as /load counts it: not one failed request.
      const counts = await load();
      expect(counts.failures).toBe(0);
      expect(counts.refused).toBe(0);
      expect(counts.byCluster.green?.requests).toBeGreaterThan(0);
      process.stderr.write(
        `playground cutover: ${steps.map((s) => `${s.share}% → observed ${s.observed}% (${s.requests} requests)`).join(', ')}; ` +
          `${counts.requests} requests, ${counts.failures} failed\n`,
      );

      // Ctrl-C (SIGINT to the foreground process group, as a terminal sends it) leaves nothing
      // running: nothing answers on any address the summary printed, and the run directory is gone.
      const summary = output.slice(output.indexOf('The playground is up'));
      const addresses = [...new Set([...summary.matchAll(/https?:\/\/127\.0\.0\.1:\d+/g)].map((m) => m[0].replace('https:', 'http:')))];
      expect(addresses.length).toBeGreaterThanOrEqual(12); // 2 API servers, 2 operators, 6 services, the load, Prometheus, ...
      process.kill(-(playground.pid ?? 0), 'SIGINT');
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
    25 * MINUTE,
  );
});
