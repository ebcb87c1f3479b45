import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { removeRunDirsOf, runDir, sweepRunDirs } from '../src/harness/run-dirs.ts';

// A root of its own, so the machine's other runs (and their sweeps) stay out of the way.
const root = mkdtempSync(join(tmpdir(), 'run-dirs-test-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const fixture = join(import.meta.dirname, 'fixtures', 'make-run-dir.ts');

/** Runs the fixture; resolves with the directory it made and a way to wait for its end. */
async function owner(how: 'exit' | 'throw' | 'hang', env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [fixture, root, how], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH, ...env },
  });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dir = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`fixture exited ${code} before making its directory`)));
  });
  return { dir, child, exited };
}

describe('run directories', () => {
  it('are removed when their process ends normally', async () => {
    const { dir, exited } = await owner('exit');
    await exited;
    expect(existsSync(dir)).toBe(false);
  });

  it('are removed when their process ends with an uncaught error (a failed run)', async () => {
    const { dir, exited } = await owner('throw');
    await exited;
    expect(existsSync(dir)).toBe(false);
  });

  // Ctrl-C is SIGINT, which a background job (CI) may inherit as ignored; SIGTERM ends a process the same way: no handler runs.
  it.each(['SIGTERM', 'SIGKILL'] as const)('left by a process killed with %s are swept by the next run, not before', async (signal) => {
    const { dir, child, exited } = await owner('hang');
    expect(sweepRunDirs(root)).not.toContain(dir); // its owner still runs
    expect(existsSync(dir)).toBe(true);
    child.kill(signal);
    await exited;
    expect(existsSync(dir)).toBe(true); // no handler ran
    expect(sweepRunDirs(root)).toContain(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it('whose owner pid now belongs to another process are swept', () => {
    const dir = join(root, 'reservations-harness-reused');
    mkdirSync(dir);
    writeFileSync(join(dir, '.owner'), `${process.pid} 1`); // our pid, but not our start time
    expect(sweepRunDirs(root)).toContain(dir);
  });

  it('made by the children of a process that claimed them (a jest run’s workers) are removed with removeRunDirsOf', async () => {
    const parent = await owner('hang'); // stands for jest's main process
    const claimed = readFileSync(join(parent.dir, '.owner'), 'utf8');
    const worker = await owner('exit', { HARNESS_RUN_DIR_OWNER: claimed });
    await worker.exited;
    expect(existsSync(worker.dir)).toBe(true); // the worker's exit leaves it to the owner
    const unrelated = await owner('hang');
    expect(removeRunDirsOf(claimed, root).sort()).toEqual([parent.dir, worker.dir].sort());
    expect(existsSync(unrelated.dir)).toBe(true);
  });

  it('are kept, and never swept, with HARNESS_KEEP_DIR=1', async () => {
    const { dir, exited } = await owner('exit', { HARNESS_KEEP_DIR: '1' });
    await exited;
    expect(existsSync(dir)).toBe(true);
    expect(sweepRunDirs(root)).not.toContain(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('of a live process are left alone; the first runDir of a process sweeps the dead ones', async () => {
    const mine = runDir('reservations-harness-', { root });
    const dead = await owner('hang');
    dead.child.kill('SIGKILL');
    await dead.exited;
    const next = await owner('exit'); // a new run: its runDir sweeps before it makes its own
    await next.exited;
    expect(existsSync(dead.dir)).toBe(false);
    expect(existsSync(mine)).toBe(true);
  });
});
