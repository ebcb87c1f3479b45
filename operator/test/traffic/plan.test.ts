import { describe, expect, it } from '@jest/globals';
import { buildPlan, expandShortcut, type PlanSpec, parseDuration } from '../../src/traffic/plan.ts';

describe('the shortcut form', () => {
  it('expands stepPercent up to maxPercent, landing exactly on the maximum', () => {
    expect(expandShortcut(30)).toEqual([30, 60, 90, 100]);
    expect(expandShortcut(25)).toEqual([25, 50, 75, 100]);
    expect(expandShortcut(10, 50)).toEqual([10, 20, 30, 40, 50]);
    expect(expandShortcut(100)).toEqual([100]);
    expect(expandShortcut(50, 30)).toEqual([30]);
  });

  it('turns into setShare steps with both weights', () => {
    const result = buildPlan({ from: 'eks-blue', stepPercent: 50 }, 'eks-green');
    expect(result).toEqual({
      ok: true,
      plan: {
        from: 'eks-blue',
        steps: [
          { kind: 'setShare', share: 50, weights: { self: 50, peer: 50 } },
          { kind: 'setShare', share: 100, weights: { self: 100, peer: 0 } },
        ],
      },
    });
  });
});

describe('a plan of steps', () => {
  it('keeps the steps in order, with durations in ms and a pause without one waiting for a promote', () => {
    const cutover: PlanSpec = {
      from: 'eks-blue',
      steps: [{ setShare: 1 }, { pause: { duration: '1m30s' } }, { analysis: { template: 'slo' } }, { pause: {} }, { setShare: 100 }],
    };
    expect(buildPlan(cutover, 'eks-green')).toEqual({
      ok: true,
      plan: {
        from: 'eks-blue',
        steps: [
          { kind: 'setShare', share: 1, weights: { self: 1, peer: 99 } },
          { kind: 'pause', durationMs: 90_000 },
          { kind: 'analysis', template: 'slo' },
          { kind: 'pause' },
          { kind: 'setShare', share: 100, weights: { self: 100, peer: 0 } },
        ],
      },
    });
  });

  it.each([
    [{ from: 'eks-green', stepPercent: 10 }, 'cutover.from names this cluster (eks-green); it must name the peer whose traffic moves here'],
    [
      { from: 'eks-blue', steps: [{ setShare: 10 }], stepPercent: 10 },
      'a cutover needs either steps or stepPercent (the shortcut form), not both',
    ],
    [{ from: 'eks-blue', maxPercent: 50, steps: [{ setShare: 10 }] }, 'maxPercent only goes with stepPercent'],
    [{ from: 'eks-blue' }, 'a cutover needs steps, or stepPercent for the shortcut form'],
    [{ from: 'eks-blue', steps: [{ setShare: 10, pause: {} }] }, 'steps[0] must set exactly one of setShare, pause or analysis'],
    [
      { from: 'eks-blue', steps: [{ setShare: 10 }, { setShare: 150 }] },
      'steps[1].setShare: a share must be an integer percent from 0 to 100, not 150',
    ],
    [
      { from: 'eks-blue', steps: [{ setShare: 10 }, { pause: { duration: '5 minutes' } }] },
      'steps[1].pause.duration must be like 30s, 5m or 1h30m (more than 0), not "5 minutes"',
    ],
    [{ from: 'eks-blue', steps: [{ pause: { duration: '5m' } }] }, 'the plan has no setShare step, so it would never move any traffic'],
    [{ from: 'eks-blue', stepPercent: 0 }, 'stepPercent must be an integer from 1 to 100, not 0'],
  ] as [PlanSpec, string][])('rejects %j: %s', (cutover, message) => {
    const result = buildPlan(cutover, 'eks-green');
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toContain(message);
  });
});

it('parses durations the CRD accepts', () => {
  expect(parseDuration('30s')).toBe(30_000);
  expect(parseDuration('5m')).toBe(300_000);
  expect(parseDuration('1h30m')).toBe(5_400_000);
  expect(parseDuration('5')).toBeUndefined();
  expect(parseDuration('1d')).toBeUndefined();
});
