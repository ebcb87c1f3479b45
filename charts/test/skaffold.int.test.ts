import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import type { Reservation } from '../../operator/src/api/v1alpha1/reservation.ts';
import { desiredObjects } from '../../operator/src/desired/index.ts';
import type { KubeObject } from '../../operator/src/kube/resources.ts';
import { SKAFFOLD_API_VERSION, skaffoldSchema } from '../../scripts/harness/go-tools.ts';
import { repoRoot } from '../../scripts/harness/paths.ts';
import { find, render } from './support/charts.ts';

/**
 * skaffold.yaml, checked without a skaffold binary (it cannot be built here: see
 * skaffoldSchema): against the JSON schema skaffold publishes for the file's apiVersion, then
 * against what it points at: Dockerfiles, charts, the values it sets, the Services it forwards.
 */

interface Release {
  name: string;
  chartPath: string;
  namespace: string;
  setValueTemplates?: Record<string, string>;
  valuesFiles?: string[];
}
interface SkaffoldConfig {
  apiVersion: string;
  build: { artifacts: { image: string; context: string; docker: { dockerfile: string } }[] };
  deploy: { helm: { releases: Release[] } };
  portForward: { resourceType: string; resourceName: string; namespace: string; port: number; localPort: number }[];
  profiles: { name: string; patches: { op: 'add' | 'replace'; path: string; value: unknown }[] }[];
}

const config = parse(readFileSync(join(repoRoot, 'skaffold.yaml'), 'utf8')) as SkaffoldConfig;

/** The JSON Patch subset skaffold profiles use here (add, replace; `-` appends). */
function applyPatches(base: SkaffoldConfig, patches: SkaffoldConfig['profiles'][number]['patches']): SkaffoldConfig {
  const doc = structuredClone(base) as unknown as Record<string, unknown>;
  for (const { op, path, value } of patches) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop() as string;
    let node = doc as Record<string, unknown> | unknown[];
    for (const k of keys) {
      const next = Array.isArray(node) ? node[Number(k)] : node[k];
      if (next === undefined) throw new Error(`profile patch ${path}: nothing at ${k}`);
      node = next as Record<string, unknown>;
    }
    if (Array.isArray(node)) {
      if (last === '-') node.push(value);
      else node.splice(Number(last), op === 'replace' ? 1 : 0, value);
    } else {
      if (op === 'replace' && !(last in node)) throw new Error(`profile patch ${path}: replace of a missing key`);
      node[last] = value;
    }
  }
  return doc as unknown as SkaffoldConfig;
}

/** What skaffold would put in the templates: each artifact's built image, and the profiles' settings. */
function fillTemplate(template: string): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, name: string) => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const artifact = (prefix: string) => name.slice(prefix.length);
    if (name.startsWith('IMAGE_REPO_')) return `registry.local/${artifact('IMAGE_REPO_')}`;
    if (name.startsWith('IMAGE_TAG_')) return 'v0.1.0-3-gabcdef0';
    if (name.startsWith('IMAGE_DIGEST_')) return digest;
    if (name.startsWith('IMAGE_FULLY_QUALIFIED_')) return `registry.local/${artifact('IMAGE_FULLY_QUALIFIED_')}:dev@${digest}`;
    const settings: Record<string, string> = {
      OPERATOR_ROLE_ARN: 'arn:aws:iam::123456789012:role/reservation-operator',
      AWS_REGION: 'eu-west-1',
    };
    if (!(name in settings)) throw new Error(`skaffold.yaml uses {{.${name}}}, which this test does not know`);
    return settings[name] as string;
  });
}

/** Every release rendered as skaffold would deploy it under a profile (undefined: no profile). */
async function renderReleases(profile?: string) {
  const patched = profile ? applyPatches(config, config.profiles.find((p) => p.name === profile)?.patches ?? []) : config;
  const out: Record<string, KubeObject[]> = {};
  for (const release of patched.deploy.helm.releases) {
    const set = Object.fromEntries(Object.entries(release.setValueTemplates ?? {}).map(([k, v]) => [k, fillTemplate(v)]));
    const { objects } = await render(join(repoRoot, release.chartPath), {
      release: release.name,
      namespace: release.namespace,
      valuesFiles: (release.valuesFiles ?? []).map((f) => join(repoRoot, f)),
      set,
    });
    out[release.name] = objects;
  }
  return out;
}

describe('skaffold.yaml', () => {
  let schema: object;
  beforeAll(async () => {
    schema = JSON.parse(readFileSync(await skaffoldSchema(), 'utf8')) as object;
  });

  it(`is a valid ${SKAFFOLD_API_VERSION} config, with each profile applied too, by skaffold's published schema`, () => {
    expect(config.apiVersion).toBe(SKAFFOLD_API_VERSION);
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    for (const doc of [config, ...config.profiles.map((p) => applyPatches(config, p.patches))]) {
      validate(doc);
      expect(validate.errors ?? []).toEqual([]);
    }
  });

  it('is refused by that schema when a field is misspelt (the check has teeth)', () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    expect(validate({ ...config, deploy: { helm: { relases: [] } } })).toBe(false);
  });

  it('builds the four images from their Dockerfiles and hands each to a chart', () => {
    expect(config.build.artifacts.map((a) => a.image).sort()).toEqual(['notifier', 'query-api', 'reservation-api', 'reservation-operator']);
    for (const a of config.build.artifacts) expect(existsSync(join(repoRoot, a.context, a.docker.dockerfile))).toBe(true);
    const templates = JSON.stringify(config.deploy.helm.releases.map((r) => r.setValueTemplates));
    for (const a of config.build.artifacts)
      expect(templates).toContain(
        `IMAGE_${a.image === 'reservation-operator' ? 'REPO' : 'FULLY_QUALIFIED'}_${a.image.replaceAll('-', '_')}`,
      );
  });

  it.each(['local', 'eks'])('deploys through the two charts with the %s profile, the built images in place', async (profile) => {
    const rendered = await renderReleases(profile);
    const operator = find(rendered['reservation-operator'] ?? [], 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(operator.spec.template.spec.containers[0]?.image).toBe(`registry.local/reservation_operator@sha256:${'a'.repeat(64)}`);
    const cr = find(rendered.booking ?? [], 'Reservation') as unknown as Reservation;
    expect(cr.spec.services.reservationApi.image).toMatch(/^registry\.local\/reservation_api:dev@sha256:/);
    if (profile === 'eks') {
      expect(find(rendered['reservation-operator'] ?? [], 'ServiceAccount').metadata.annotations).toEqual({
        'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/reservation-operator',
      });
    }
  });

  it('forwards ports of Services that exist once the operator has acted on the Reservation', async () => {
    const rendered = await renderReleases('local');
    const cr = find(rendered.booking ?? [], 'Reservation') as unknown as Reservation;
    const services = [
      ...desiredObjects({ ...cr, metadata: { ...cr.metadata, uid: 'uid' } }),
      ...(rendered['reservation-operator'] ?? []).map(
        (o): KubeObject => ({ ...o, metadata: { ...o.metadata, namespace: 'reservation-system' } }),
      ),
    ].filter((o) => o.kind === 'Service');
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
