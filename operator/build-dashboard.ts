// The dashboard's page (`kubectl reservation dashboard`): operator/src/cli/dashboard/page bundled
// with uPlot into operator/dist/dashboard/{index.html,app.js,app.css}, static files the plugin
// serves; nothing is fetched from elsewhere at run time. `npm install` runs it (the root's
// postinstall), `npm run build:dashboard` again after changing the page; the browser test builds
// its own copy from the sources.
//
// `node operator/build-dashboard.ts [outdir]`
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export const DEFAULT_DASHBOARD_OUTDIR = join(import.meta.dirname, 'dist', 'dashboard');
const page = join(import.meta.dirname, 'src', 'cli', 'dashboard', 'page');

/** Builds the page into `outdir`; resolves with its files and their sizes in bytes. */
export async function buildDashboard(outdir = DEFAULT_DASHBOARD_OUTDIR): Promise<Record<string, number>> {
  mkdirSync(outdir, { recursive: true });
  const common = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'none' } as const;
  await build({
    ...common,
    entryPoints: [join(page, 'app.ts')],
    outfile: join(outdir, 'app.js'),
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
  });
  await build({ ...common, entryPoints: [join(page, 'style.css')], outfile: join(outdir, 'app.css') });
  copyFileSync(join(page, 'index.html'), join(outdir, 'index.html'));
  return Object.fromEntries(['index.html', 'app.js', 'app.css'].map((f) => [f, statSync(join(outdir, f)).size]));
}

if (import.meta.main) {
  const outdir = process.argv[2] ?? DEFAULT_DASHBOARD_OUTDIR;
  const sizes = await buildDashboard(outdir);
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${outdir}: ${Object.entries(sizes)
      .map(([f, n]) => `${f} ${(n / 1024).toFixed(1)} KB`)
      .join(', ')}; ${(total / 1024).toFixed(1)} KB in all\n`,
  );
}
