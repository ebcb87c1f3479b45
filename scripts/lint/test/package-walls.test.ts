import { describe, expect, it } from '@jest/globals';
import { type PackageInfo, packageOf, specifiers, wallViolations } from '../package-walls.ts';

const packages: PackageInfo[] = [
  { dir: '.', name: 'reservation-platform', runtime: new Set(), dev: new Set() },
  { dir: 'packages/service-kit', name: '@reservations/service-kit', runtime: new Set(['fastify']), dev: new Set() },
  { dir: 'packages/testkit', name: '@reservations/testkit', runtime: new Set(), dev: new Set() },
  { dir: 'packages/contracts', name: '@reservations/contracts', runtime: new Set(), dev: new Set() },
  {
    dir: 'services/query-api',
    name: '@reservations/query-api',
    runtime: new Set(['@reservations/service-kit']),
    dev: new Set(['@reservations/testkit']),
  },
];

describe('specifiers', () => {
  it('finds static imports, re-exports, dynamic and side-effect imports, with their lines', () => {
    const source = [
      "import { a } from './a.ts';",
      "export { b } from '../b.ts';",
      "const c = await import('./c.ts');",
      "import './d.ts';",
      'import type {',
      '  E,',
      "} from '@reservations/service-kit';",
      'const text = "import { f } from \'../../elsewhere.ts\'"; // in a string: not an import',
      "// import { g } from '../../commented.ts';",
    ].join('\n');
    expect(specifiers(source)).toEqual([
      { specifier: './a.ts', line: 1 },
      { specifier: '../b.ts', line: 2 },
      { specifier: './c.ts', line: 3 },
      { specifier: './d.ts', line: 4 },
      { specifier: '@reservations/service-kit', line: 7 },
    ]);
  });
});

describe('packageOf', () => {
  it('is the deepest package folder holding the path, the root for the rest', () => {
    expect(packageOf('services/query-api/src/app.ts', packages).name).toBe('@reservations/query-api');
    expect(packageOf('scripts/test.ts', packages).name).toBe('reservation-platform');
    expect(packageOf('services/query-api-old/x.ts', packages).name).toBe('reservation-platform');
  });
});

describe('wallViolations', () => {
  const check = (path: string, source: string) => wallViolations([{ path, source }], packages);

  it('lets a relative import stay inside its package', () => {
    expect(check('services/query-api/test/reads.test.ts', "import { x } from '../src/app.ts';")).toEqual([]);
    expect(check('scripts/bench/a.ts', "import { x } from '../lint/b.ts';")).toEqual([]);
  });

  it('refuses a relative import into another package, naming the package to import instead', () => {
    expect(check('services/query-api/test/reads.test.ts', "import { x } from '../../../packages/testkit/src/env.ts';")).toEqual([
      "services/query-api/test/reads.test.ts:1: '../../../packages/testkit/src/env.ts' reaches into @reservations/testkit (packages/testkit); import it by its name instead",
    ]);
    expect(check('scripts/up.ts', "const m = await import('../packages/testkit/src/index.ts');")).toHaveLength(1);
    expect(check('packages/testkit/src/a.ts', "export * from '../../../scripts/x.ts';")).toEqual([
      "packages/testkit/src/a.ts:1: '../../../scripts/x.ts' reaches into reservation-platform (.); import it by its name instead",
    ]);
  });

  it('refuses a workspace package the importer does not declare; the root may import any', () => {
    expect(check('services/query-api/src/a.ts', "import { x } from '@reservations/service-kit';")).toEqual([]);
    expect(check('services/query-api/test/a.test.ts', "import { y } from '@reservations/contracts';")).toEqual([
      'services/query-api/test/a.test.ts:1: @reservations/query-api imports @reservations/contracts without declaring it in services/query-api/package.json',
    ]);
    expect(check('scripts/up.ts', "import { y } from '@reservations/testkit';")).toEqual([]);
    expect(check('packages/service-kit/src/a.ts', "import Fastify from 'fastify';")).toEqual([]);
  });

  it('lets only tests and benchmarks import a devDependency: the images ship without them', () => {
    expect(check('services/query-api/test/a.test.ts', "import { y } from '@reservations/testkit';")).toEqual([]);
    expect(check('services/query-api/bench/load.ts', "import { y } from '@reservations/testkit';")).toEqual([]);
    expect(check('services/query-api/src/app.ts', "import { y } from '@reservations/testkit';")).toEqual([
      'services/query-api/src/app.ts:1: @reservations/query-api imports @reservations/testkit, a devDependency, from code it ships; declare it in dependencies or import it only from test/ or bench/',
    ]);
  });

  it('refuses an import that climbs out of the repository', () => {
    expect(check('scripts/up.ts', "import x from '../../shared/thing.ts';")).toEqual([
      "scripts/up.ts:1: '../../shared/thing.ts' climbs out of the repository",
    ]);
  });
});
