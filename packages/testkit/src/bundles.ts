import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './harness/paths.ts';

/** The programs images/bundle.ts builds, each run from its bundle as its image runs it. */
export type BundledProgram = 'operator' | 'reservation-api' | 'query-api' | 'notifier';

const built = new Map<BundledProgram, Promise<Record<string, string>>>();

/**
 * A program's production bundle (images/bundle.ts, what its Dockerfile builds): entry file name
 * (`server.mjs`, `main.mjs`, ...) → its path, in a folder with the assets beside it. Built once per
 * process by a child process (esbuild's API refuses to run inside Jest's module sandbox), then kept
 * under the name of its content: parallel test processes share one copy, and a new copy appears
 * only when the sources change.
 */
export function bundled(program: BundledProgram): Promise<Record<string, string>> {
  let pending = built.get(program);
  if (!pending) {
    pending = build(program);
    built.set(program, pending);
  }
  return pending;
}

async function build(program: BundledProgram): Promise<Record<string, string>> {
  const parent = join(tmpdir(), 'reservation-bundles');
  mkdirSync(parent, { recursive: true });
  const scratch = mkdtempSync(join(parent, `.${program}-`));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [join(repoRoot, 'images', 'bundle.ts'), program, scratch]);
    const files = stdout.trim().split('\n');
    const hash = createHash('sha256');
    for (const file of files) hash.update(readFileSync(file));
    const dir = join(parent, `${program}-${hash.digest('hex').slice(0, 16)}`);
    // Atomic: another process sees the whole folder or none; when one got there first, its copy is the same.
    if (!existsSync(dir)) {
      try {
        renameSync(scratch, dir);
      } catch (err) {
        if (!existsSync(dir)) throw err;
      }
    }
    return Object.fromEntries(files.map((file) => [basename(file), join(dir, basename(file))]));
  } finally {
    if (existsSync(scratch)) rmSync(scratch, { recursive: true, force: true });
  }
}
