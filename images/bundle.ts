// The production artefact of each program the images run: one ES module per entry point with every
// dependency in it and what it never calls left out (esbuild), plus the files it reads at run time
// copied beside it. The Dockerfiles run it, and so do the tests and benchmarks that start a
// program as its image does.
//
// Why: run from the TypeScript sources, a service loads every module of its dependencies (the AWS
// SDK, Fastify's plugins, the Kubernetes client's generated API for the operator), strips the types
// of each of its own files and resolves thousands of paths: most of its start-up time and memory.
// Bundled, only the code it reaches is parsed, from one file (docs/benchmarks.md, start-up).
//
// `node images/bundle.ts <program> [outdir]` (program: operator, reservation-api, query-api,
// notifier); prints each built entry point's path. outdir defaults to the program's `dist/`.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { build, type Plugin, transform } from 'esbuild';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

/** A folder a program reads at run time, copied to `dist/<name>` (the code finds it with service-kit's `assetDir`). */
interface Asset {
  name: string;
  from: () => string;
}

/** swagger-ui's page, scripts and styles, which @fastify/swagger-ui serves from disk at /docs. */
const swaggerUi: Asset = { name: 'swagger-ui', from: () => join(dirname(require.resolve('@fastify/swagger-ui/package.json')), 'static') };
/** The numbered schema files the migrate command applies. */
const migrations: Asset = { name: 'migrations', from: () => join(root, 'packages', 'database', 'migrations') };

export interface Program {
  /** The program's folder in the repository; the bundle goes to its `dist/`. */
  dir: string;
  /** Bundle file name → its TypeScript entry point (relative to the repository). */
  entries: Record<string, string>;
  assets: Asset[];
}

export const PROGRAMS = {
  operator: { dir: 'operator', entries: { 'main.mjs': 'operator/src/main.ts' }, assets: [] },
  // Its image also runs the schema's migrate and grant commands (docs/install.md) and the relay alone.
  'reservation-api': {
    dir: 'services/reservation-api',
    entries: {
      'server.mjs': 'services/reservation-api/src/server.ts',
      'relay.mjs': 'services/reservation-api/src/relay.ts',
      'migrate.mjs': 'packages/database/src/migrate.ts',
      'grant.mjs': 'packages/database/src/grant.ts',
    },
    assets: [swaggerUi, migrations],
  },
  'query-api': { dir: 'services/query-api', entries: { 'server.mjs': 'services/query-api/src/server.ts' }, assets: [swaggerUi] },
  notifier: { dir: 'services/notifier', entries: { 'server.mjs': 'services/notifier/src/server.ts' }, assets: [swaggerUi] },
} satisfies Record<string, Program>;

export type ProgramName = keyof typeof PROGRAMS;

/** Where a program's bundle goes by default: its `dist/`, which the Dockerfile copies into the image. */
export const defaultOutdir = (name: ProgramName) => join(root, PROGRAMS[name].dir, 'dist');

/**
 * Packages whose modules have no side effects on import although their package.json does not say
 * so: esbuild then leaves out the modules nothing uses. @kubernetes/client-node's index re-exports
 * its generated API (759 model classes and a serializer naming each one), which the operator never
 * calls (it has its own client and informer): about 10 MB of its RSS.
 */
const SIDE_EFFECT_FREE = /[\\/]node_modules[\\/]@kubernetes[\\/]client-node[\\/]/;

const sideEffectFree: Plugin = {
  name: 'side-effect-free',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === sideEffectFree) return undefined; // the resolve below, not looked at again
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: sideEffectFree,
      });
      return SIDE_EFFECT_FREE.test(resolved.path) ? { ...resolved, sideEffects: false } : undefined;
    });
  },
};

/**
 * Node's built-ins are loaded with require(), not imported: Node makes a built-in's ES module by
 * reading every one of its exports, which runs the lazy ones. `import http from 'node:http'` reads
 * `http.WebSocket` and so loads Node's own copy of undici (about 14 MB of RSS in a process that
 * never opens a WebSocket), `node:crypto` its Web Crypto, and so on. Required, a built-in is its
 * `module.exports`, and esbuild's import of a CommonJS module reads an export only when the code
 * does.
 */
const builtinsByRequire: Plugin = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^[a-z]/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      if (args.kind === 'import-statement') return { path: args.path, namespace: 'builtin' };
      return { path: args.path, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path.startsWith('node:') ? args.path : `node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

/**
 * V8 keeps a module's source while it may still compile a function of it: one byte per character
 * when every character is Latin-1, two bytes otherwise. esbuild escapes non-ASCII characters in
 * code (its default ASCII charset) but leaves comments as written, and a few typographic quotes in
 * dependencies' comments made each 5-8 MB bundle take twice that in memory. They become `?`; the
 * code without whitespace and comments is compared before and after, so a replacement anywhere but
 * in a comment fails the build.
 */
async function asciiOnly(file: string): Promise<void> {
  const code = readFileSync(file, 'utf8');
  const ascii = code.replace(/[\u0080-\uffff]/g, '?');
  if (ascii === code) return;
  const bare = async (source: string) => (await transform(source, { minifyWhitespace: true, legalComments: 'none' })).code;
  if ((await bare(code)) !== (await bare(ascii))) throw new Error(`${file}: a non-ASCII character outside a comment`);
  writeFileSync(file, ascii);
}

/**
 * Bundles each entry point of `name` into `outdir` (one self-contained .mjs each) and copies its
 * assets beside them; resolves with the entry points' paths, in the order `entries` lists them.
 */
export async function bundle(name: ProgramName, outdir = defaultOutdir(name)): Promise<string[]> {
  const program: Program = PROGRAMS[name];
  mkdirSync(outdir, { recursive: true });
  const outfiles: string[] = [];
  for (const [file, entry] of Object.entries(program.entries)) {
    const outfile = join(outdir, file);
    await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      // Not minified: stack traces name functions and lines as written. (No keepNames either: it
      // wraps every closure made at run time in a helper call, measurable CPU on hot paths.)
      logLevel: 'warning',
      plugins: [builtinsByRequire, sideEffectFree],
      // CommonJS dependencies call require() for Node's built-ins; an ES module has no require.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      // Nor __dirname: the CommonJS modules that read it (ioredis's friendly stacks, @fastify/swagger's
      // package.json) get the bundle's folder rather than a ReferenceError.
      define: { __dirname: 'import.meta.dirname', __filename: 'import.meta.filename' },
    });
    await asciiOnly(outfile);
    outfiles.push(outfile);
  }
  for (const asset of program.assets) {
    const target = join(outdir, asset.name);
    rmSync(target, { recursive: true, force: true });
    cpSync(asset.from(), target, { recursive: true });
  }
  return outfiles;
}

if (import.meta.main) {
  const [name, outdir] = process.argv.slice(2);
  if (!name || !(name in PROGRAMS)) {
    process.stderr.write(`usage: node images/bundle.ts ${Object.keys(PROGRAMS).join('|')} [outdir]\n`);
    process.exit(2);
  }
  const outfiles = await bundle(name as ProgramName, outdir);
  process.stdout.write(`${outfiles.join('\n')}\n`);
}
