// The operator's production artefact: one ESM file (operator/dist/main.mjs) with every dependency
// bundled and what it never calls left out. operator/Dockerfile runs it, and so do the tests and the
// benchmark that start the operator as a process (test/support/operator-process.ts).
//
// Why: run from its TypeScript sources, the operator loads every module of @kubernetes/client-node
// (its generated API client included):
// about 200 MB of RSS before the first Reservation. Bundled, only the code it reaches is parsed
// (about 110 MB; docs/benchmarks.md).
//
// `node operator/build.ts [outdir]`
import { join } from 'node:path';
import { build } from 'esbuild';

export const BUNDLE_NAME = 'main.mjs';
export const DEFAULT_OUTDIR = join(import.meta.dirname, 'dist');

/** Bundles operator/src/main.ts into `outdir`/main.mjs; resolves with the file's path. */
export async function buildOperator(outdir = DEFAULT_OUTDIR): Promise<string> {
  const outfile = join(outdir, BUNDLE_NAME);
  await build({
    entryPoints: [join(import.meta.dirname, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Not minified: stack traces name functions and lines as written. (No keepNames either: it
    // wraps every closure made at run time in a helper call, measurable CPU on hot paths.)
    logLevel: 'warning',
    // CommonJS dependencies call require() for Node's built-ins; an ES module has no require.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

if (import.meta.main) {
  const outfile = await buildOperator(process.argv[2]);
  process.stdout.write(`${outfile}\n`);
}
