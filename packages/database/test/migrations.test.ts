import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadMigrations } from '../src/migrations.ts';

function dirWith(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe('loadMigrations', () => {
  it('orders the numbered files', () => {
    const dir = dirWith({ '002_b.sql': 'B', '001_a.sql': 'A', 'README.md': 'ignored' });
    expect(loadMigrations(dir)).toEqual([
      { version: 1, name: 'a', sql: 'A' },
      { version: 2, name: 'b', sql: 'B' },
    ]);
  });

  it('refuses a gap, a duplicate or a badly named file', () => {
    expect(() => loadMigrations(dirWith({ '001_a.sql': '', '003_c.sql': '' }))).toThrow(/found 3 at position 2/);
    expect(() => loadMigrations(dirWith({ '001_a.sql': '', '001_b.sql': '' }))).toThrow(/found 1 at position 2/);
    expect(() => loadMigrations(dirWith({ 'add-things.sql': '' }))).toThrow(/NNN_snake_case/);
  });
});
