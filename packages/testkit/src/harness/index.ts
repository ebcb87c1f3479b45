import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installCfnLint } from './cfn-lint.ts';
import { installChromium } from './chromium.ts';
import { installElasticMq, type SqsEnv, startElasticMq } from './elasticmq.ts';
import {
  gatewayApiCrds,
  installExternalDns,
  installHelm,
  installKubeBinaries,
  installSkaffold,
  prometheusOperatorCrds,
} from './go-tools.ts';
import { installOpenssl, type KubeEnv, startKubeControlPlane } from './kube.ts';
import { elapsed, step } from './log.ts';
import { installMariaDb, type MariaDbEnv, startMariaDbPair } from './mariadb.ts';
import { type AwsEnv, installMoto, startMoto } from './moto.ts';
import { type Server, stopServers } from './proc.ts';
import { installPrometheus, type PrometheusEnv, startPrometheus } from './prometheus.ts';
import { installRedis, type RedisEnv, startRedis } from './redis.ts';
import { removeRunDir, runDir } from './run-dirs.ts';
import { installSchemathesis } from './schemathesis.ts';

/**
 * The local harness: real servers on loopback for tests and the playground.
 * `installHarness` makes sure everything is installed or built (slow once, then cached);
 * `startHarness` starts the servers in a throwaway directory and returns their settings.
 */

/** `sqs` is ElasticMQ (the event queue and its DLQ); `aws` is moto, for Route53. */
export const COMPONENTS = ['mysql', 'redis', 'sqs', 'aws', 'kube', 'prometheus'] as const;
export type Component = (typeof COMPONENTS)[number];

export type HarnessEnv = Partial<MariaDbEnv & RedisEnv & SqsEnv & AwsEnv & KubeEnv & PrometheusEnv>;

export interface Harness {
  readonly dir: string;
  readonly env: HarnessEnv;
  /** The server processes it started (a benchmark reads their CPU time). */
  readonly servers: readonly Server[];
  /** Stops every server and removes the run directory (unless HARNESS_KEEP_DIR is set). */
  stop(): Promise<void>;
}

/** Components named in HARNESS_COMPONENTS (comma-separated), or all of them. */
export function selectedComponents(value = process.env.HARNESS_COMPONENTS): Component[] {
  if (!value) return [...COMPONENTS];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(COMPONENTS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`HARNESS_COMPONENTS: unknown ${unknown.join(', ')} (known: ${COMPONENTS.join(', ')})`);
  }
  return names as Component[];
}

/** An existing cluster to use instead of starting a local control plane. */
const existingKubeconfig = () => process.env.HARNESS_KUBECONFIG || undefined;

export async function installHarness(
  components: readonly Component[] = COMPONENTS,
  { helm = true, browser }: { helm?: boolean; browser?: boolean } = {},
): Promise<void> {
  const started = Date.now();
  const kube = components.includes('kube') && !existingKubeconfig();
  // Two lanes side by side: downloads and package installs (mostly waiting on the network and
  // the disk) beside the Go builds (the CPU), so a cold setup takes about as long as its builds.
  const packages = async () => {
    // apt holds a lock: the Debian packages one at a time.
    if (components.includes('mysql')) await installMariaDb();
    if (components.includes('redis')) await installRedis();
    if (components.includes('aws')) await installMoto();
    if (components.includes('prometheus')) await installPrometheus();
    // The dashboard's browser test drives Debian's Chromium (playwright-core ships no browser); with
    // the test tools, unless asked otherwise.
    if (browser ?? helm) await installChromium();
    // After apt (it may install java and maven); the download itself is Maven's.
    if (components.includes('sqs')) await installElasticMq();
    if (kube) await installOpenssl();
    if (helm) {
      await installCfnLint();
      await installSchemathesis();
    }
  };
  const builds = async () => {
    if (kube) {
      await installKubeBinaries();
      await gatewayApiCrds();
    }
    if (helm) {
      // What the chart, skaffold.yaml, infra, API contract and ExternalDNS tests use besides the servers.
      await installHelm();
      await installExternalDns();
      await prometheusOperatorCrds();
      await installSkaffold();
    }
  };
  // Both lanes run to their end (what either installs is cached for the next run), then the
  // first failure is thrown; each is said at once, not after the other lane's builds.
  const said = (lane: string) => (err: Error) => {
    step('setup', `${lane} failed: ${err.message} (the other lane goes on, then setup stops)`);
    throw err;
  };
  const results = await Promise.allSettled([packages().catch(said('packages')), builds().catch(said('builds'))]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  step('setup', `everything installed (${elapsed(started)})`);
}

export async function startHarness(components: readonly Component[] = COMPONENTS): Promise<Harness> {
  const started = Date.now();
  const dir = runDir();
  const starters: Record<Component, () => Promise<{ env: Partial<HarnessEnv>; servers: Server[] }>> = {
    mysql: () => startMariaDbPair(dir),
    redis: () => startRedis(dir),
    sqs: () => startElasticMq(dir),
    aws: () => startMoto(dir),
    kube: () => {
      const kubeconfig = existingKubeconfig();
      if (kubeconfig) return Promise.resolve({ env: { KUBECONFIG: kubeconfig }, servers: [] });
      return startKubeControlPlane(join(dir, 'kube'));
    },
    prometheus: () => startPrometheus(join(dir, 'prometheus')),
  };
  const results = await Promise.allSettled(components.map((c) => starters[c]()));
  const servers = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.servers : []));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const stop = async () => {
    await stopServers(servers);
    removeRunDir(dir);
  };
  if (failures.length > 0) {
    await stop();
    throw failures[0];
  }
  const env = Object.assign({}, ...results.map((r) => (r.status === 'fulfilled' ? r.value.env : {}))) as HarnessEnv;
  writeFileSync(join(dir, 'harness.env'), envFile(env));
  step('harness', `${components.join(', ')} up in ${elapsed(started)}; settings in ${join(dir, 'harness.env')}`);
  return { dir, env, servers, stop };
}

/** `export NAME='value'` lines that a shell can source. */
export function envFile(env: HarnessEnv): string {
  return `${Object.entries(env)
    .map(([k, v]) => `export ${k}='${String(v).replaceAll("'", "'\\''")}'`)
    .join('\n')}\n`;
}
