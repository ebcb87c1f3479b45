import { delimiter, join } from 'node:path';
import { harnessEnv, kubeBinary, run } from '@reservations/testkit';

/** Running the plugin as an SRE does: `kubectl reservation ...` through the harness's kubectl, operator/bin on PATH. */

export const binDir = join(import.meta.dirname, '..', '..', 'bin');

/** The environment kubectl runs the plugin in: the harness's cluster, operator/bin on PATH. */
export function pluginEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH}`, KUBECONFIG: harnessEnv('KUBECONFIG') };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not the plugin's
  return { ...env, ...extra };
}

/** Runs `kubectl ARGS` to completion; never throws on a non-zero exit. */
export const kubectl = (args: string[], env = pluginEnv()) => run(kubeBinary('kubectl'), args, { env, check: false });
