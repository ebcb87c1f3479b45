import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { KubeObject } from '@reservations/operator/kube';
import { helmBinary, kubeBinary, repoRoot } from '@reservations/testkit';
import { parseAllDocuments } from 'yaml';

export const OPERATOR_CHART = join(repoRoot, 'charts', 'reservation-operator');
export const PLATFORM_CHART = join(repoRoot, 'charts', 'reservation-platform');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not an exception (tests look at the message). */
export function exec(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** The real helm binary the harness installed (HARNESS_HELM or the cached build). */
export const helm = (...args: string[]) => exec(helmBinary(), args);

/** kubectl with the harness cluster's admin kubeconfig. */
export const kubectl = (kubeconfig: string, args: string[], input?: string) =>
  exec(kubeBinary('kubectl'), ['--kubeconfig', kubeconfig, ...args], { input });

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  set?: Record<string, string>;
  /** --include-crds: the CRDs under crds/ too. */
  includeCrds?: boolean;
}

function templateArgs(chart: string, options: RenderOptions): string[] {
  const { release = 'test', namespace = 'default', valuesFiles = [], set = {}, includeCrds = false } = options;
  return [
    'template',
    release,
    chart,
    '--namespace',
    namespace,
    ...valuesFiles.flatMap((f) => ['--values', f]),
    ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ...(includeCrds ? ['--include-crds'] : []),
  ];
}

/** `helm template` as is: the exit code and what helm printed. */
export const helmTemplateResult = (chart: string, options: RenderOptions = {}) => helm(...templateArgs(chart, options));

/** The objects `helm template` renders; throws with helm's message when it refuses. */
export async function render(chart: string, options: RenderOptions = {}): Promise<{ yaml: string; objects: KubeObject[] }> {
  const result = await helmTemplateResult(chart, options);
  if (result.code !== 0) throw new Error(`helm template ${chart} failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  return { yaml: result.stdout, objects };
}

export function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found)
    throw new Error(
      `rendered output has no ${kind}${name ? ` ${name}` : ''}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
  return found;
}
