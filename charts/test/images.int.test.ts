import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SERVICE_NAMES } from '@reservations/operator/api';
import { ADMIN_PORT, API_PORT, configMap, deployment, SERVICES } from '@reservations/operator/desired';
import { sampleReservation } from '@reservations/operator/testing';
import { repoRoot } from '@reservations/testkit';
import { NODE_PATH } from '../../images/rootfs.ts';
import { exec, find, OPERATOR_CHART, render } from './support/charts.ts';
import { buildImageTree, finalStage, type Instruction, parseDockerfile } from './support/image-tree.ts';

/**
 * No container engine runs here, so the images are checked where they meet the charts: each
 * Dockerfile's base, user, entry point and ports against the pod the chart (operator) or the
 * operator (services) runs it in.
 */

interface Dockerfile {
  stages: string[];
  instructions: Instruction[];
}

function dockerfileAt(path: string): Dockerfile {
  const instructions = parseDockerfile(path);
  return { stages: instructions.filter((i) => i.op === 'FROM').map((i) => i.args), instructions };
}

/** What the last stage (the image) says for `op`. */
const final = (d: Dockerfile, op: string) => finalStage(d.instructions).filter((i) => i.op === op);

const nodeVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: { node: string } })
  .devDependencies.node;
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

interface Expected {
  dockerfile: string;
  workspace: string;
  /** What images/bundle.ts calls the program. */
  program: string;
  /** What the image runs: the program's bundle (images/bundle.ts), which carries its dependencies. */
  entry: string;
  /** The source file the bundle is built from. */
  source: string;
  user: { runAsUser: number; runAsGroup: number };
  ports: number[];
}

async function expectations(): Promise<Expected[]> {
  const cr = sampleReservation();
  const services = SERVICE_NAMES.map((s): Expected => {
    const pod = deployment(cr, s, configMap(cr)).spec as {
      template: { spec: { securityContext: Expected['user']; containers: { ports: { containerPort: number }[] }[] } };
    };
    const component = SERVICES[s].component;
    return {
      dockerfile: `services/${component}/Dockerfile`,
      workspace: `@reservations/${component}`,
      program: component,
      entry: `services/${component}/dist/server.mjs`,
      source: `services/${component}/src/server.ts`,
      user: pod.template.spec.securityContext,
      ports: pod.template.spec.containers[0]?.ports.map((p) => p.containerPort) ?? [],
    };
  });
  const { objects } = await render(OPERATOR_CHART);
  const operatorPod = (
    find(objects, 'Deployment').spec as {
      template: { spec: { securityContext: Expected['user']; containers: { ports: { containerPort: number }[] }[] } };
    }
  ).template.spec;
  return [
    {
      dockerfile: 'operator/Dockerfile',
      workspace: '@reservations/operator',
      program: 'operator',
      entry: 'operator/dist/main.mjs',
      source: 'operator/src/main.ts',
      user: operatorPod.securityContext,
      ports: operatorPod.containers[0]?.ports.map((p) => p.containerPort) ?? [],
    },
    ...services,
  ];
}

describe('the Dockerfiles', () => {
  it('cover the operator and every service the operator runs', async () => {
    expect((await expectations()).map((e) => e.dockerfile)).toEqual([
      'operator/Dockerfile',
      'services/reservation-api/Dockerfile',
      'services/query-api/Dockerfile',
      'services/notifier/Dockerfile',
    ]);
    expect([API_PORT, ADMIN_PORT]).toEqual([3000, 9090]);
  });

  it.each(['operator/Dockerfile', 'services/reservation-api/Dockerfile', 'services/query-api/Dockerfile', 'services/notifier/Dockerfile'])(
    '%s: built on the pinned Node LTS, the image only node, its libraries and the bundle, no HEALTHCHECK, the pod’s user, entry point and ports',
    async (file) => {
      const e = (await expectations()).find((x) => x.dockerfile === file) as Expected;
      const d = dockerfileAt(join(repoRoot, file));
      // The bundle and the base filesystem are built with the pinned Node; the image starts from nothing.
      expect(d.stages).toEqual([`node:${nodeVersion}-bookworm-slim AS build`, 'scratch']);
      expect(d.instructions.some((i) => i.op === 'HEALTHCHECK')).toBe(false);
      const install = d.instructions.find((i) => i.op === 'RUN' && i.args.includes('npm install'));
      expect(install?.args).toContain(`--workspace ${e.workspace}`);
      expect(d.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)).toContain(
        `node images/bundle.ts ${e.program} && node images/rootfs.ts rootfs`,
      );
      // Built in the first stage; the image takes the base filesystem and the bundle's folder alone, and runs nothing.
      expect(finalStage(d.instructions).filter((i) => i.op === 'RUN')).toEqual([]);
      const dist = dirname(e.entry);
      expect(final(d, 'COPY').map((i) => i.args)).toEqual(['--from=build /app/rootfs/ /', `--from=build /app/${dist}/ ${dist}/`]);
      // Where images/rootfs.ts puts node.
      expect(final(d, 'ENV').map((i) => i.args)).toContain(`PATH=${dirname(NODE_PATH)}`);

      // Numeric uid:gid, so the kubelet can enforce runAsNonRoot; the same as the pod's.
      expect(final(d, 'USER').map((i) => i.args)).toEqual([`${e.user.runAsUser}:${e.user.runAsGroup}`]);
      expect(e.user.runAsUser).toBeGreaterThan(0);
      expect(final(d, 'ENTRYPOINT').map((i) => JSON.parse(i.args))).toEqual([['node', e.entry]]);
      expect(final(d, 'EXPOSE').flatMap((i) => i.args.split(' ').map(Number))).toEqual(e.ports);

      // What the bundle is built from is copied into the build, and the build context does not drop it.
      const copied = d.instructions
        .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
        .map((i) => i.args.split(' ')[0] as string);
      expect(copied.some((src) => e.source.startsWith(`${src}/`))).toBe(true);
      expect(copied).toContain('images');
      for (const src of copied) expect(dockerignore.filter((pattern) => matchesGlob(src, pattern))).toEqual([]);
    },
  );

  // No engine: each instruction done by hand on the host (support/image-tree.ts), then the entry
  // point started with one bad setting, so it stops at its configuration check having loaded
  // everything it imports: the bundle alone is enough, without any node_modules. Then again inside
  // the image's own tree (namespaces and a chroot: the tests run as root), on its own node and
  // libraries, as its user, with the tree read-only: the tree alone suffices.
  it.each([
    ['operator/Dockerfile', { WORKERS: '0' }, 'reservation-operator: invalid configuration: WORKERS="0" must be >= 1\n'],
    ['services/reservation-api/Dockerfile', {}, /^reservation-api: invalid configuration: .*MYSQL_PRIMARY_URL is required/],
    ['services/query-api/Dockerfile', {}, /^query-api: invalid configuration: .*MYSQL_REPLICA_URL is required/],
    ['services/notifier/Dockerfile', {}, /^notifier: invalid configuration: .*SQS_QUEUE_URL is required/],
  ])(
    '%s: the image it builds starts from its bundle alone, on its own node',
    async (file, env, message) => {
      const dir = mkdtempSync(join(tmpdir(), 'image-'));
      try {
        const image = await buildImageTree(file, dir);
        expect(existsSync(join(image.root, image.workdir, 'node_modules'))).toBe(false);
        expect(existsSync(join(image.root, NODE_PATH))).toBe(true);
        const r = await image.run(env);
        expect(r.code).toBe(1);
        expect(`${r.stdout}${r.stderr}`).toMatch(message);
        const [command = '', ...args] = image.contained();
        // The host's PATH finds unshare and mount; inside, the entry point is found on the image's.
        const contained = await exec(command, args, { env: { ...image.env, ...env, PATH: process.env.PATH } });
        expect(contained.code).toBe(1);
        expect(`${contained.stdout}${contained.stderr}`).toMatch(message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );

  it.each([
    'operator/src/main.ts',
    'services/reservation-api/src/server.ts',
    'services/query-api/src/server.ts',
    'services/notifier/src/server.ts',
  ])('the source of entry point %s exists', (entry) => {
    expect(existsSync(join(repoRoot, entry))).toBe(true);
  });
});
