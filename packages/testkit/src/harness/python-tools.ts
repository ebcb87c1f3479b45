import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDebianTools, installDebianPackages } from './debian.ts';
import { elapsed, step } from './log.ts';
import { cachePath } from './paths.ts';
import { run } from './proc.ts';

/**
 * A tool from PyPI in its own virtualenv, cached per version under the cache directory
 * (moto's server, cfn-lint), so that neither touches the machine's Python packages.
 */
export interface PythonTool {
  component: string;
  /** The pip requirement, e.g. `moto[server]`. */
  requirement: string;
  version: string;
  /** The console script that marks the tool as installed, e.g. `moto_server`. */
  script: string;
}

export function pythonToolDir(tool: PythonTool): string {
  return cachePath(tool.component, tool.version);
}

export function pythonToolBinary(tool: PythonTool): string {
  return join(pythonToolDir(tool), 'bin', tool.script);
}

export async function installPythonTool(tool: PythonTool): Promise<void> {
  if (existsSync(pythonToolBinary(tool))) return;
  await ensureDebianTools(tool.component, [{ binary: 'python3', pkg: 'python3' }]);
  const started = Date.now();
  const dir = pythonToolDir(tool);
  step(tool.component, `creating a virtualenv in ${dir}`);
  try {
    await run('python3', ['-m', 'venv', '--clear', dir]);
  } catch {
    // Debian's python3 ships venv separately.
    await installDebianPackages(tool.component, ['python3-venv'], 'python3 has no venv module');
    await run('python3', ['-m', 'venv', '--clear', dir]);
  }
  const spec = `${tool.requirement}==${tool.version}`;
  step(tool.component, `pip install ${spec}`);
  await run(join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', spec], {
    progress: { component: tool.component, what: `installing ${tool.component}` },
  });
  step(tool.component, `installed in ${elapsed(started)}`);
}
