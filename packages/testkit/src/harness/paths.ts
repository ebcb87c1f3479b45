import { mkdirSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..', '..', '..');

/**
 * Where installed and built tools live between runs, keyed by version so that a
 * version bump builds anew and an unchanged one is reused (HARNESS_CACHE_DIR overrides).
 */
export const cacheDir = resolve(process.env.HARNESS_CACHE_DIR ?? join(homedir(), '.cache', 'reservation-platform'));

export function cachePath(...parts: string[]): string {
  const dir = join(cacheDir, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A throwaway directory for one run's data dirs, sockets, certificates and logs. */
export function runDir(prefix = 'reservations-harness-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
