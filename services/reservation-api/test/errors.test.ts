import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { kitProblems } from '@reservations/service-kit';
import { problems } from '../src/errors.ts';

function sources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('the error registry', () => {
  const src = sources(join(import.meta.dirname, '..', 'src'));
  const docs = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'booking.md'), 'utf8');
  const own = Object.keys(problems.specs).filter((code) => !(code in kitProblems.specs));

  it.each(own)('%s is raised somewhere, is a 4xx and is documented', (code) => {
    expect(src).toContain(`'${code}'`);
    const spec = problems.specs[code as keyof typeof problems.specs];
    expect(spec.status).toBeGreaterThanOrEqual(400);
    expect(spec.status).toBeLessThan(500);
    expect(docs).toContain(`\`${code}\``);
  });
});
