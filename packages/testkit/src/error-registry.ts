import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { repoRoot } from './harness/paths.ts';

type Registry = { specs: Record<string, { status: number }> };

function sources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

/**
 * A service's own problem codes (those not in `inherited`, service-kit's) are each raised
 * somewhere in `srcDir`, a 4xx, and documented in `docs/<doc>`: one error registry per package,
 * kept honest.
 */
export function describeErrorRegistry(problems: Registry, inherited: Registry, srcDir: string, doc = 'booking.md'): void {
  describe('the error registry', () => {
    const src = sources(srcDir);
    const docs = readFileSync(join(repoRoot, 'docs', doc), 'utf8');
    const own = Object.keys(problems.specs).filter((code) => !(code in inherited.specs));

    it.each(own)('%s is raised somewhere, is a 4xx and is documented', (code) => {
      expect(src).toContain(`'${code}'`);
      const status = problems.specs[code]?.status ?? 0;
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
      expect(docs).toContain(`\`${code}\``);
    });
  });
}
