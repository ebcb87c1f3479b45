import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStat } from './proc.ts';

/**
 * The harness's throwaway directories (data dirs, sockets, certificates, logs: MariaDB's alone is
 * over 200 MB) never outlive the process that made them, however it ends:
 * - a normal end, a failed test, an uncaught error: removed on the process's `exit`;
 * - a jest run: its global setup claims every directory its workers make (a test environment's
 *   `process` is a copy that never emits `exit`), and its global teardown removes them;
 * - a signal or SIGKILL, which runs no handler: each directory names its owner (pid and start
 *   time, so a reused pid does not count), and the next `runDir()` on the machine sweeps every
 *   directory whose owner is gone.
 * `HARNESS_KEEP_DIR=1` keeps them: no owner is written, so no sweep touches them either.
 */

const RUN_DIR_PREFIX = 'reservations-';
const OWNER_FILE = '.owner';
/** Set by `claimRunDirs()`: the process that owns the run directories of this process and its children. */
const OWNER_ENV = 'HARNESS_RUN_DIR_OWNER';

const ours = new Set<string>();
let exitHook = false;
const swept = new Set<string>();

/** A throwaway directory for one run's data dirs, sockets, certificates and logs. */
export function runDir(prefix = 'reservations-harness-', { root = tmpdir(), keep = Boolean(process.env.HARNESS_KEEP_DIR) } = {}): string {
  if (!prefix.startsWith(RUN_DIR_PREFIX)) throw new Error(`run directory prefix ${prefix} must start with ${RUN_DIR_PREFIX}`);
  if (!swept.has(root)) {
    swept.add(root);
    sweepRunDirs(root);
  }
  const dir = mkdtempSync(join(root, prefix));
  if (keep) return dir;
  const claimed = process.env[OWNER_ENV];
  // Written aside and renamed into place: a concurrent sweep never reads a half-written owner.
  const owner = join(dir, `${OWNER_FILE}.tmp`);
  writeFileSync(owner, claimed ?? processIdentity(process.pid) ?? String(process.pid));
  renameSync(owner, join(dir, OWNER_FILE));
  if (!claimed) {
    if (!exitHook) process.once('exit', removeOwnRunDirs);
    exitHook = true;
    ours.add(dir);
  }
  return dir;
}

/**
 * Makes this process the owner of the run directories that it and its child processes make
 * from now on (jest's global setup: the workers inherit the setting); `removeRunDirsOf` with the
 * returned owner removes them all.
 */
export function claimRunDirs(): string {
  const owner = processIdentity(process.pid) ?? String(process.pid);
  process.env[OWNER_ENV] = owner;
  return owner;
}

/** Removes every run directory under `root` that `owner` owns (unless HARNESS_KEEP_DIR is set). */
export function removeRunDirsOf(owner: string, root = tmpdir()): string[] {
  if (process.env.HARNESS_KEEP_DIR) return [];
  return removeWhere(root, (o) => o === owner);
}

/** Removes a run directory now (a harness that stopped), unless HARNESS_KEEP_DIR is set. */
export function removeRunDir(dir: string): void {
  if (process.env.HARNESS_KEEP_DIR) return;
  rmSync(dir, { recursive: true, force: true });
  ours.delete(dir);
}

/** Removes the run directories under `root` whose owner process is gone; returns them. */
export function sweepRunDirs(root = tmpdir()): string[] {
  return removeWhere(root, (owner) => !isAlive(owner));
}

function removeWhere(root: string, remove: (owner: string) => boolean): string[] {
  const removed: string[] = [];
  for (const name of safeReaddir(root)) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(root, name);
    const owner = readOwner(dir);
    if (!owner || !remove(owner)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another user's directory in a shared /tmp, say: not ours to remove, and no reason to fail a run.
    }
  }
  return removed;
}

function removeOwnRunDirs(): void {
  for (const dir of ours) rmSync(dir, { recursive: true, force: true });
  ours.clear();
}

/** `pid starttime`: the start time (in clock ticks since boot) tells a reused pid from the owner. */
function processIdentity(pid: number): string | undefined {
  const starttime = procStat(pid)?.[19]; // field 22
  return starttime ? `${pid} ${starttime}` : undefined;
}

function readOwner(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, OWNER_FILE), 'utf8').trim();
  } catch {
    return undefined; // kept on purpose, or not ours
  }
}

function isAlive(owner: string): boolean {
  const pid = Number(owner.split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (owner.includes(' ')) return processIdentity(pid) === owner;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
