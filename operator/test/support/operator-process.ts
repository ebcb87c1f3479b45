import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundled, freePort } from '@reservations/testkit';
import { parse } from 'yaml';

export interface OperatorProcess {
  child: ChildProcess;
  admin: string;
  log(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/** The chart's `malloc` values and the glibc variables its Deployment sets from them. */
const MALLOC_VARIABLES = {
  arenaMax: 'MALLOC_ARENA_MAX',
  trimThreshold: 'MALLOC_TRIM_THRESHOLD_',
  mmapThreshold: 'MALLOC_MMAP_THRESHOLD_',
} as const;

const chartValues = parse(
  readFileSync(join(import.meta.dirname, '..', '..', '..', 'charts', 'reservation-operator', 'values.yaml'), 'utf8'),
) as { nodeOptions: string; malloc: Record<keyof typeof MALLOC_VARIABLES, number | null> };

/** The Node flags the chart gives the operator's container (NODE_OPTIONS, from its values). */
export const CHART_NODE_OPTIONS: string = chartValues.nodeOptions;

/** The process environment the chart gives the operator's container besides its configuration: Node's flags, glibc malloc's settings. */
export const CHART_PROCESS_ENV: Record<string, string> = {
  NODE_OPTIONS: CHART_NODE_OPTIONS,
  ...Object.fromEntries(
    Object.entries(MALLOC_VARIABLES).flatMap(([key, variable]) => {
      const value = chartValues.malloc[key as keyof typeof MALLOC_VARIABLES];
      return value === null ? [] : [[variable, String(value)]];
    }),
  ),
};

const operatorBundle = async () => (await bundled('operator'))['main.mjs'] as string;

/**
 * Runs the operator as a real process, as its Deployment does: the production bundle
 * (images/bundle.ts, what operator/Dockerfile runs) with the chart's NODE_OPTIONS and malloc
 * settings unless `env` sets its own.
 */
export async function startOperator(env: Record<string, string>): Promise<OperatorProcess> {
  const [port, main] = await Promise.all([freePort(), operatorBundle()]);
  const output: string[] = [];
  // Under setpriv --pdeathsig, like the harness's servers: it dies with whoever started it.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, main], {
    env: {
      PATH: process.env.PATH,
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(port),
      LOG_LEVEL: 'info',
      ...CHART_PROCESS_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => output.push(String(d)));
  child.stderr?.on('data', (d: Buffer) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    admin: `http://127.0.0.1:${port}`,
    log: () => output.join(''),
    exited,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal);
    },
  };
}

/**
 * The operator process of one cluster, as the tests and the two-cluster platform run it: watching
 * `namespace` through `kubeconfig` (no leader election), with the AWS settings of `env` (default
 * this process's) and Route53 at `route53` (the stand-in), its SDK's app id `appId` in its user
 * agent so the stand-in's log tells its calls apart.
 */
export function startClusterOperatorProcess(o: {
  kubeconfig: string;
  namespace: string;
  route53: string;
  appId: string;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<OperatorProcess> {
  const aws = Object.fromEntries(
    Object.entries(o.env ?? process.env).filter((e): e is [string, string] => e[0].startsWith('AWS_') && e[1] !== undefined),
  );
  return startOperator({
    ...aws,
    AWS_ENDPOINT_URL_ROUTE_53: o.route53,
    AWS_SDK_UA_APP_ID: o.appId,
    KUBECONFIG: o.kubeconfig,
    WATCH_NAMESPACE: o.namespace,
    LEADER_ELECT: 'false',
  });
}

/** The value of the series `name` with (at least) `labels`, from the admin port's /metrics (the operator's, or ExternalDNS's). */
export async function metric(
  op: Pick<OperatorProcess, 'admin'>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const response = await fetch(`${op.admin}/metrics`, { signal: AbortSignal.timeout(5000) }).catch((err: Error) => {
    // undici says only "fetch failed"; the cause says why (refused, reset, ...).
    const cause = err.cause as { code?: string; message?: string } | undefined;
    throw new Error(`GET ${op.admin}/metrics: ${cause?.code ?? cause?.message ?? err.message}`);
  });
  const text = await response.text();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}
