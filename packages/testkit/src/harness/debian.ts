import { step } from './log.ts';
import { run, which } from './proc.ts';

/** A program the harness needs and the Debian package that ships it. */
export interface DebianTool {
  binary: string;
  pkg: string;
}

let updated = false;

/**
 * Installs the Debian packages whose binaries are missing. As root with apt-get this just
 * works on a fresh machine; otherwise it stops with one line naming what to install.
 */
export async function ensureDebianTools(component: string, tools: DebianTool[]): Promise<void> {
  const missing = tools.filter((t) => !which(t.binary));
  if (missing.length === 0) return;
  await installDebianPackages(component, [...new Set(missing.map((t) => t.pkg))], `missing ${missing.map((t) => t.binary).join(', ')}`);
}

export async function installDebianPackages(component: string, pkgs: string[], why = 'needs them'): Promise<void> {
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new Error(`${component}: ${why}; install with: sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    step(component, 'apt-get update');
    await run('apt-get', ['update', '-qq'], { env });
    updated = true;
  }
  step(component, `apt-get install ${pkgs.join(' ')}`);
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env });
}
