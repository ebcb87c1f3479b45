import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Type } from 'typebox';
import { reservationCrd, toStructuralSchema } from '../../src/api/crd.ts';
import { crdFiles } from '../../src/api/crd-files.ts';
import { SERVICE_NAMES } from '../../src/api/v1alpha1/reservation.ts';
import { OPERATOR_OWNED_ENV, UNSAFE_ENV } from '../../src/desired/env.ts';

describe('crds/', () => {
  it('matches the API types (run `npm run generate:crds` after changing them)', () => {
    for (const { file, yaml } of crdFiles()) {
      expect(readFileSync(join(import.meta.dirname, '..', '..', '..', 'crds', file), 'utf8')).toBe(yaml);
    }
  });
});

describe('toStructuralSchema', () => {
  it('types enums and leaves defaulted properties out of required', () => {
    const schema = Type.Object(
      {
        kind: Type.Enum(['A', 'B'], { default: 'A', description: 'which' }),
        name: Type.String({ description: 'name' }),
      },
      { description: 'thing' },
    );
    expect(toStructuralSchema(schema)).toEqual({
      type: 'object',
      description: 'thing',
      required: ['name'],
      properties: {
        kind: { type: 'string', enum: ['A', 'B'], default: 'A', description: 'which' },
        name: { type: 'string', description: 'name' },
      },
    });
  });

  it('gives every spec and status property a description, so kubectl explain documents it', () => {
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      if (typeof node.description !== 'string') missing.push(path);
      const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [name, child] of Object.entries(properties)) walk(child, `${path}.${name}`);
      if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
    };
    const root = reservationCrd().spec.versions[0]?.schema.openAPIV3Schema.properties;
    walk(root?.spec as Record<string, unknown>, 'spec');
    walk(root?.status as Record<string, unknown>, 'status');
    expect(missing).toEqual([]);
  });
});

describe('the CEL rules on spec.services.<svc>.env', () => {
  // biome-ignore lint/suspicious/noExplicitAny: reads deep into the generated schema
  const spec = reservationCrd().spec.versions[0]?.schema.openAPIV3Schema.properties.spec as any;
  /** The names in each `e.name in [...]` rule, in order. */
  const lists = (service: string): string[][] =>
    (spec.properties.services.properties[service].properties.env['x-kubernetes-validations'] as { rule: string }[]).map(({ rule }) =>
      [...(rule.match(/in \[(.*)\]/)?.[1] ?? '').matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1] as string),
    );

  it.each(SERVICE_NAMES)('refuse exactly OPERATOR_OWNED_ENV and UNSAFE_ENV (%s)', (service) => {
    expect(lists(service)).toEqual([[...OPERATOR_OWNED_ENV], [...UNSAFE_ENV]]);
  });
});
