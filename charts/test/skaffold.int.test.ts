import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Reservation } from '@reservations/operator/api';
import { desiredObjects } from '@reservations/operator/desired';
import type { KubeObject } from '@reservations/operator/kube';
import { createTestNamespace, testKubeConfig } from '@reservations/operator/testing';
import { helmBinary, repoRoot, SKAFFOLD_VERSION, skaffoldBinary } from '@reservations/testkit';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { exec, find } from './support/charts.ts';
import { dryRunApply, installChartCrds } from './support/cluster.ts';

/**
 * skaffold.yaml through skaffold's own parser and renderer (`skaffold render`, which runs the
 * real helm), then against what it points at: the Dockerfiles, the images in place, the
 * Services the port-forwards name.
 */

interface SkaffoldConfig {
  apiVersion: string;
  build: { artifacts: { image: string; context: string; docker: { dockerfile: string } }[] };
  portForward: { resourceType: string; resourceName: string; namespace: string; port: number; localPort: number }[];
  profiles: { name: string }[];
}

const config = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8')) as SkaffoldConfig;
const EKS_SETTINGS = { OPERATOR_ROLE_ARN: 'arn:aws:iam::123456789012:role/reservation-operator', AWS_REGION: 'eu-west-1' };

function skaffold(args: string[], env: Record<string, string> = {}) {
  return exec(skaffoldBinary(), [...args, '--interactive=false', '--update-check=false'], {
    env: {
      ...process.env,
      ...env,
      PATH: `${dirname(helmBinary())}:${process.env.PATH}`,
      SKAFFOLD_DEFAULT_REPO: 'registry.local/reservations',
    },
  });
}

const DIGEST = `sha256:${'0'.repeat(63)}1`;

/**
 * `skaffold render` of a profile, offline, on the images a `skaffold build --file-output` would
 * have listed (no engine here to build them): the objects both releases make.
 */
async function renderProfile(profile: string): Promise<KubeObject[]> {
  const dir = mkdtempSync(join(tmpdir(), 'skaffold-'));
  try {
    const builds = join(dir, 'builds.json');
    const tag = (image: string) => `registry.local/reservations/${image}:v1.4.2@${DIGEST}`;
    writeFileSync(builds, JSON.stringify({ builds: config.build.artifacts.map((a) => ({ imageName: a.image, tag: tag(a.image) })) }));
    const r = await skaffold(
      [
        'render',
        '-p',
        profile,
        '--digest-source=none',
        '--offline=true',
        `--build-artifacts=${builds}`,
        '--filename',
        join(repoRoot, 'skaffold.yaml'),
      ],
      EKS_SETTINGS,
    );
    if (r.code !== 0) throw new Error(`skaffold render -p ${profile} failed:\n${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('skaffold.yaml', () => {
  beforeAll(() => installChartCrds());

  it(`is read by skaffold ${SKAFFOLD_VERSION}, with every profile`, async () => {
    for (const profile of ['', ...config.profiles.map((p) => p.name)]) {
      const r = await skaffold([
        'diagnose',
        '--yaml-only',
        '--filename',
        join(repoRoot, 'skaffold.yaml'),
        ...(profile ? ['-p', profile] : []),
      ]);
      expect([profile, r.code, r.stderr]).toEqual([profile, 0, '']);
    }
  });

  it('is refused by skaffold when a field is misspelt (the check has teeth)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skaffold-'));
    try {
      const file = join(dir, 'skaffold.yaml');
      writeFileSync(file, readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8').replace('releases:', 'relases:'));
      const r = await skaffold(['diagnose', '--yaml-only', '--filename', file]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('relases');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds the four images from their Dockerfiles', () => {
    expect(config.build.artifacts.map((a) => a.image).sort()).toEqual(['notifier', 'query-api', 'reservation-api', 'reservation-operator']);
    for (const a of config.build.artifacts) expect(existsSync(join(repoRoot, a.context, a.docker.dockerfile))).toBe(true);
  });

  it.each(['local', 'eks'])('deploys through the two charts with the %s profile, each built image in its place', async (profile) => {
    const objects = await renderProfile(profile);
    const image = (o: KubeObject) =>
      (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image;
    expect(image(find(objects, 'Deployment'))).toBe(`registry.local/reservations/reservation-operator:v1.4.2@${DIGEST}`);
    const cr = find(objects, 'Reservation') as unknown as Reservation;
    expect([cr.spec.services.reservationApi.image, cr.spec.services.queryApi.image, cr.spec.services.notifier.image]).toEqual(
      ['reservation-api', 'query-api', 'notifier'].map((s) => `registry.local/reservations/${s}:v1.4.2@${DIGEST}`),
    );
    if (profile === 'eks') {
      expect(find(objects, 'ServiceAccount').metadata.annotations).toEqual({
        'eks.amazonaws.com/role-arn': EKS_SETTINGS.OPERATOR_ROLE_ARN,
      });
      expect(JSON.stringify(find(objects, 'Deployment'))).toContain('{"name":"AWS_REGION","value":"eu-west-1"}');
    } else {
      expect((find(objects, 'Deployment').spec as { replicas: number }).replicas).toBe(1);
    }
  });

  it('forwards ports of Services that exist once the operator has acted on the Reservation', async () => {
    const objects = await renderProfile('local');
    const cr = find(objects, 'Reservation') as unknown as Reservation;
    // As the API server would store it (its defaults filled in), in a namespace of the test's.
    const namespace = await createTestNamespace(testKubeConfig(), 'skaffold');
    const applied = await dryRunApply(stringify({ ...cr, metadata: { ...cr.metadata, namespace } }), namespace);
    expect(applied).toMatchObject({ code: 0, error: '' });
    const stored = find(applied.objects, 'Reservation') as unknown as Reservation;
    const wanted = desiredObjects({ ...stored, metadata: { ...stored.metadata, namespace: cr.metadata.namespace } });
    const services = [...wanted, ...objects].filter((o) => o.kind === 'Service');
    for (const forward of config.portForward) {
      const svc = services.find((s) => s.metadata.name === forward.resourceName && s.metadata.namespace === forward.namespace);
      const ports = (svc?.spec as { ports: { port: number }[] } | undefined)?.ports ?? [];
      expect([`${forward.namespace}/${forward.resourceName}`, ports.map((p) => p.port)]).toEqual([
        `${svc?.metadata.namespace}/${svc?.metadata.name}`,
        expect.arrayContaining([forward.port]),
      ]);
    }
    expect(new Set(config.portForward.map((f) => f.localPort)).size).toBe(config.portForward.length);
  });
});
