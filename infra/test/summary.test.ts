import { describe, expect, it } from '@jest/globals';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { summarize } from '../src/summary.ts';

const stack = (stackName: string, resources: number) => ({
  stackName,
  template: { Resources: Object.fromEntries(Array.from({ length: resources }, (_, i) => [`R${i}`, {}])) },
});

describe("infra:synth's summary", () => {
  it('lists each stack with its resource count, aligned, and the total', () => {
    const assembly = { directory: '/repo/infra/cdk.out', stacks: [stack('reservations-dns', 1), stack('reservations-network', 51)] };
    expect(summarize(assembly as unknown as CloudAssembly, 'config/example.json', 9_640)).toBe(
      [
        'synthesized 2 stacks from config/example.json into /repo/infra/cdk.out in 9.6 s:',
        '  reservations-dns         1 resources',
        '  reservations-network    51 resources',
        '  total                   52 resources',
      ].join('\n'),
    );
  });

  it('counts a stack without resources as 0', () => {
    const assembly = { directory: '/out', stacks: [{ stackName: 'empty', template: {} }] };
    expect(summarize(assembly as unknown as CloudAssembly, 'c.json', 0).split('\n')[1]).toBe('  empty     0 resources');
  });
});
