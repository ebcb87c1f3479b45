import { describe, expect, it } from '@jest/globals';
import { desiredObjects } from '../../src/desired/index.ts';
import { DNS_LABEL_MAX, MAX_NAME_LENGTH } from '../../src/desired/metadata.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import { sampleReservation } from '../support/fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: walks plain JSON objects
type Json = any;

const DNS_SUBDOMAIN_MAX = 253;
/** Kinds whose names must be DNS labels (RFC 1035); the others are DNS subdomains. */
const LABEL_NAMED_KINDS = ['Service'];

/** Every label map in an object: its own, and its pod template's, selectors' and spread constraints'. */
function labelMaps(o: KubeObject): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  const walk = (node: Json, key?: string) => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node && typeof node === 'object') {
      if (key === 'labels' || key === 'matchLabels' || key === 'selector') {
        if (Object.values(node).every((v) => typeof v === 'string')) found.push(node);
      }
      for (const [k, v] of Object.entries(node)) walk(v, k);
    }
  };
  walk(o);
  return found;
}

describe('a Reservation name of MAX_NAME_LENGTH characters', () => {
  const name = `b${'x'.repeat(MAX_NAME_LENGTH - 2)}z`;
  const longVersion = `v${'1'.repeat(DNS_LABEL_MAX - 1)}`;
  const variants = {
    HTTPRoute: sampleReservation(
      { version: longVersion, edge: { host: 'api.example.com', kind: 'HTTPRoute', parentRef: { name: 'public' } } },
      name,
    ),
    Ingress: sampleReservation({ version: longVersion, edge: { host: 'api.example.com', kind: 'Ingress' } }, name),
  };

  it.each(Object.entries(variants))('makes objects whose names and label values all fit (%s edge)', (_edge, cr) => {
    expect(cr.metadata.name).toHaveLength(MAX_NAME_LENGTH);
    const objects = desiredObjects(cr);
    for (const o of objects) {
      const max = LABEL_NAMED_KINDS.includes(o.kind) ? DNS_LABEL_MAX : DNS_SUBDOMAIN_MAX;
      expect({ kind: o.kind, name: o.metadata.name, fits: o.metadata.name.length <= max }).toMatchObject({ fits: true });
      for (const labels of labelMaps(o)) {
        for (const [key, value] of Object.entries(labels)) {
          expect({ kind: o.kind, key, value, fits: value.length <= DNS_LABEL_MAX }).toMatchObject({ fits: true });
        }
      }
    }
  });

  it('is the most that fits: one more character makes a Service name too long for a DNS label', () => {
    const services = desiredObjects(variants.Ingress).filter((o) => o.kind === 'Service');
    expect(Math.max(...services.map((s) => s.metadata.name.length))).toBe(DNS_LABEL_MAX);
  });
});
