import { spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { harnessEnv, kubeBinary } from '@reservations/testkit';

/** Running the plugin as an SRE does: `kubectl reservation ...` through the harness's kubectl, operator/bin on PATH. */

export const binDir = join(import.meta.dirname, '..', '..', 'bin');

/** The environment kubectl runs the plugin in: the harness's cluster, operator/bin on PATH. */
export function pluginEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH}`, KUBECONFIG: harnessEnv('KUBECONFIG') };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not the plugin's
  return { ...env, ...extra };
}

/** Runs `kubectl ARGS` to completion; never throws on a non-zero exit. */
export function kubectl(args: string[], env = pluginEnv()): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubeBinary('kubectl'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
