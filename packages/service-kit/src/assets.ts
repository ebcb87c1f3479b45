import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A folder of files a module reads at run time (swagger-ui's page, the schema's migrations). In a
 * bundle (images/bundle.ts) every module's `import.meta.dirname` is the bundle's folder, and the
 * bundler copies the folder there as `name`; run from the sources, it is where the package keeps it.
 */
export function assetDir(moduleDir: string, name: string, inSources: () => string): string {
  const beside = join(moduleDir, name);
  return existsSync(beside) ? beside : inSources();
}
