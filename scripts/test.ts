// `npm test` (and CI): install what the harness needs, lint, typecheck, then every jest test.
// Extra arguments go to jest: `npm test -- --selectProjects unit`, `npm test -- harness`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { elapsed, installHarness, removeRunDir, repoRoot, runDir, selectedComponents, step } from '@reservations/testkit';

const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

function exec(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(bin(name), args, { cwd: repoRoot, env, stdio: 'inherit' });
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const started = Date.now();

// The static checks first: they need no server and fail in seconds.
step('test', 'package walls');
if ((await exec('node', [join(repoRoot, 'scripts', 'lint', 'package-walls.ts')])) !== 0) process.exit(1);
step('test', 'biome check (lint + format)');
if ((await exec('biome', ['check', '.'])) !== 0) process.exit(1);
step('test', 'tsc --noEmit');
if ((await exec('tsc', ['-p', 'tsconfig.json', '--noEmit'])) !== 0) process.exit(1);
// The dashboard's page has the DOM's types, not Node's alone.
if ((await exec('tsc', ['-p', 'operator/src/cli/dashboard/page/tsconfig.json', '--noEmit'])) !== 0) process.exit(1);

await installHarness(selectedComponents());

step('test', 'jest');
const resultsDir = runDir('reservations-jest-');
const results = join(resultsDir, 'results.json');
const code = await exec('jest', ['--json', `--outputFile=${results}`, ...process.argv.slice(2)], {
  ...process.env,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim(),
});
try {
  const r = JSON.parse(readFileSync(results, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number };
  // The plain closing line CI reads, whatever the runner.
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
} catch {
  console.log('jest: wrote no results');
}
removeRunDir(resultsDir);
step('test', `done in ${elapsed(started)}`);
process.exit(code);
