// The package walls, checked by `npm test` before biome: a relative import stays inside its own
// package (the folder of the nearest package.json; the repository root is the tooling package:
// scripts/, charts/test), and a workspace package is imported by its name only when the
// importer's package.json declares it. `node scripts/lint/package-walls.ts` lists what breaks them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { parseSync } from '@swc/core';

export interface SourceFile {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  source: string;
}

export interface PackageInfo {
  /** Its folder, relative to the repository root; '.' for the root. */
  dir: string;
  name: string;
  /** dependencies and peerDependencies: what its shipped code may import. */
  runtime: ReadonlySet<string>;
  /** devDependencies: what only its tests and benchmarks may import. */
  dev: ReadonlySet<string>;
}

/** Tests and benchmarks of a package: they may use its devDependencies; nothing else that ships may. */
const DEV_ONLY = /(^|\/)(test|bench)\//;

/**
 * Every module specifier of a TypeScript source, from its syntax tree (so an import written inside
 * a string or a comment is not one): static imports and re-exports, dynamic imports, bare
 * side-effect imports, each with the line it is on.
 */
export function specifiers(source: string): { specifier: string; line: number }[] {
  const found = new Set<string>();
  visit(parseSync(source, { syntax: 'typescript' }), found);
  return [...found].map((specifier) => ({ specifier, line: lineOf(source, specifier) }));
}

type Node = {
  type?: string;
  source?: { value: string };
  callee?: { type: string };
  arguments?: { expression: Node & { value?: string } }[];
};

function visit(node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) visit(child, found);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if ((n.type === 'ImportDeclaration' || n.type === 'ExportAllDeclaration' || n.type === 'ExportNamedDeclaration') && n.source) {
    found.add(n.source.value);
  }
  const first = n.arguments?.[0]?.expression;
  if (n.type === 'CallExpression' && n.callee?.type === 'Import' && first?.type === 'StringLiteral' && first.value) found.add(first.value);
  for (const value of Object.values(node)) if (value && typeof value === 'object') visit(value, found);
}

/** The line of the specifier's first quoted occurrence (swc's offsets run on across parses, so they are not used). */
function lineOf(source: string, specifier: string): number {
  const at = Math.max(source.indexOf(`'${specifier}'`), source.indexOf(`"${specifier}"`));
  return at < 0 ? 0 : source.slice(0, at).split('\n').length;
}

/** The package a path belongs to: the deepest package folder that contains it. */
export function packageOf(path: string, packages: readonly PackageInfo[]): PackageInfo {
  let best: PackageInfo | undefined;
  for (const p of packages) {
    const inside = p.dir === '.' || path === p.dir || path.startsWith(`${p.dir}/`);
    if (inside && (!best || p.dir.length > best.dir.length || best.dir === '.')) best = p;
  }
  if (!best) throw new Error(`${path} is in no package (is there a package.json at the repository root?)`);
  return best;
}

/** What breaks the walls, one line each (`file:line: why`); empty when nothing does. */
export function wallViolations(files: readonly SourceFile[], packages: readonly PackageInfo[]): string[] {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const violations: string[] = [];
  for (const file of files) {
    const own = packageOf(file.path, packages);
    for (const { specifier, line } of specifiers(file.source)) {
      const where = `${file.path}:${line}`;
      if (specifier.startsWith('.')) {
        const target = normalize(join(dirname(file.path), specifier));
        const theirs = packageOf(target, packages);
        if (target.startsWith('..')) violations.push(`${where}: '${specifier}' climbs out of the repository`);
        else if (theirs !== own) {
          violations.push(`${where}: '${specifier}' reaches into ${theirs.name} (${theirs.dir}); import it by its name instead`);
        }
        continue;
      }
      const name = specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/');
      const target = byName.get(name);
      if (!target || target === own || own.dir === '.') continue;
      const inner = own.dir === '.' ? file.path : file.path.slice(own.dir.length + 1);
      if (own.runtime.has(name) || (own.dev.has(name) && DEV_ONLY.test(inner))) continue;
      violations.push(
        own.dev.has(name)
          ? `${where}: ${own.name} imports ${name}, a devDependency, from code it ships; declare it in dependencies or import it only from test/ or bench/`
          : `${where}: ${own.name} imports ${name} without declaring it in ${own.dir}/package.json`,
      );
    }
  }
  return violations;
}

function readPackages(root: string, workspaces: readonly string[]): PackageInfo[] {
  return ['.', ...workspaces].map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: object;
      devDependencies?: object;
      peerDependencies?: object;
    };
    const runtime = new Set([manifest.dependencies, manifest.peerDependencies].flatMap((d) => Object.keys(d ?? {})));
    return { dir, name: manifest.name, runtime, dev: new Set(Object.keys(manifest.devDependencies ?? {})) };
  });
}

if (import.meta.main) {
  const root = join(import.meta.dirname, '..', '..');
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  const paths = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((p) => p && existsSync(join(root, p)));
  const files = paths.map((path) => ({ path, source: readFileSync(join(root, path), 'utf8') }));
  const violations = wallViolations(files, readPackages(root, workspaces));
  for (const v of violations) process.stderr.write(`${v}\n`);
  if (violations.length) {
    process.stderr.write(`package walls: ${violations.length} import(s) cross a package boundary (docs/architecture.md)\n`);
    process.exit(1);
  }
  process.stdout.write(`package walls: ${files.length} files, ${workspaces.length + 1} packages, no import crosses a wall\n`);
}
