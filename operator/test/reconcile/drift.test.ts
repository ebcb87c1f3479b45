import { describe, expect, it } from '@jest/globals';
import { hasAllFields, quantity } from '../../src/reconcile/drift.ts';

describe('hasAllFields', () => {
  const desired = {
    metadata: { name: 'd', labels: { app: 'x' } },
    spec: {
      template: {
        spec: { containers: [{ name: 'app', image: 'img:1', env: [{ name: 'A', value: '1' }], resources: { requests: { cpu: '0.5' } } }] },
      },
    },
  };
  const live = {
    metadata: { name: 'd', labels: { app: 'x', 'team.example.com/owner': 'sre' }, resourceVersion: '42', annotations: { note: 'by hand' } },
    spec: {
      replicas: 4,
      template: {
        spec: {
          containers: [
            {
              name: 'app',
              image: 'img:1',
              env: [
                { name: 'A', value: '1' },
                { name: 'INJECTED', value: 'y' },
              ],
              resources: { requests: { cpu: '500m' } },
              terminationMessagePath: '/dev/termination-log',
            },
            { name: 'sidecar', image: 'proxy:2' },
          ],
        },
      },
    },
  };

  it('ignores fields and named list items that others added, and compares quantities by value', () => {
    expect(hasAllFields(desired, live)).toBe(true);
  });

  it('sees a hand edit of a field the operator sets', () => {
    const edited = structuredClone(live);
    if (edited.spec.template.spec.containers[0]) edited.spec.template.spec.containers[0].image = 'img:hacked';
    expect(hasAllFields(desired, edited)).toBe(false);
  });

  it('sees a named item that went missing', () => {
    const edited = structuredClone(live);
    if (edited.spec.template.spec.containers[0]) edited.spec.template.spec.containers[0].env = [];
    expect(hasAllFields(desired, edited)).toBe(false);
  });

  it('wants unnamed lists item for item', () => {
    expect(hasAllFields({ metrics: [{ type: 'Resource' }] }, { metrics: [{ type: 'Resource' }, { type: 'External' }] })).toBe(false);
    expect(hasAllFields({ args: ['a', 'b'] }, { args: ['a', 'b'] })).toBe(true);
    expect(hasAllFields({ args: ['a', 'b'] }, { args: ['b', 'a'] })).toBe(false);
  });

  it('treats a missing object as different', () => {
    expect(hasAllFields(desired, undefined)).toBe(false);
  });
});

describe('quantity', () => {
  it.each([
    ['500m', 0.5],
    ['0.5', 0.5],
    ['1Gi', 1073741824],
    ['1024Mi', 1073741824],
    ['2k', 2000],
  ])('%s is %d', (text, value) => {
    expect(quantity(text)).toBe(value);
  });
  it('is undefined for what is not a quantity', () => {
    expect(quantity('25%')).toBeUndefined();
    expect(quantity('http')).toBeUndefined();
  });
});
