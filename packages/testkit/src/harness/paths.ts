import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
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
