import { describe, expect, it } from '@jest/globals';
import { OPERATOR_OWNED_ENV, OVERRIDABLE_ENV } from '../../src/desired/env.ts';
import { desiredObjects } from '../../src/desired/index.ts';
import { sampleReservation } from '../support/fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: reads deep into plain JSON objects
type Json = any;

describe('OPERATOR_OWNED_ENV', () => {
  it.each(['RS256', 'HS256'])('names every variable the operator sets in a container (JWT %s)', (algorithm) => {
    const cr = sampleReservation({
      backends: { ...sampleReservation().spec.backends, jwt: { ...sampleReservation().spec.backends.jwt, algorithm } },
    });
    const objects = desiredObjects(cr) as Json[];
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'booking-config');
    const set = new Set<string>(Object.keys(config.data));
    for (const d of objects.filter((o) => o.kind === 'Deployment')) {
      for (const e of d.spec.template.spec.containers[0].env) set.add(e.name);
    }
    const known: readonly string[] = [...OPERATOR_OWNED_ENV, ...OVERRIDABLE_ENV];
    expect([...set].filter((n) => !known.includes(n))).toEqual([]);
  });

  it('leaves out only the defaults a service may override', () => {
    const owned: readonly string[] = OPERATOR_OWNED_ENV;
    expect(OVERRIDABLE_ENV.filter((n) => owned.includes(n))).toEqual([]);
  });
});
