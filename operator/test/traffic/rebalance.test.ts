import { describe, expect, it } from '@jest/globals';
import { drainSwitchValue, nextRebalance, rebalanceFraction, rebalanceLabel } from '../../src/traffic/rebalance.ts';

const SINCE = '2026-11-25T10:00:00.000Z';

describe('the rebalance of keep-alive connections', () => {
  it("closes enough of this cluster's connections that, once they resolve again by the new weights, it keeps its new share", () => {
    expect(rebalanceFraction(75, 50)).toBeCloseTo(2 / 3, 10);
    expect(rebalanceFraction(95, 75)).toBeCloseTo(0.2 / (0.95 * 0.25), 10);
    // From all the traffic, only the new peer's share of those that resolve again leaves: every one must.
    expect(rebalanceFraction(100, 95)).toBe(1);
    expect(rebalanceFraction(50, 0)).toBe(1);
    expect(rebalanceFraction(50, 50)).toBe(0);
    expect(rebalanceFraction(50, 75)).toBe(0);
    expect(rebalanceFraction(0, 0)).toBe(0);
    // What the fraction is for: kept + came back = the new share.
    for (const [from, to] of [
      [95, 75],
      [75, 50],
      [60, 10],
    ] as const) {
      const f = rebalanceFraction(from, to);
      expect((from / 100) * (1 - f) + (from / 100) * f * (to / 100)).toBeCloseTo(to / 100, 10);
    }
  });

  it('starts a new rebalance for a new step, keeps the one under way for the same step, and ignores a rise', () => {
    const first = nextRebalance(undefined, { from: 100, to: 75 }, SINCE);
    expect(first).toEqual({ fromShare: 100, toShare: 75, fraction: 1, since: SINCE });
    expect(nextRebalance(first, { from: 100, to: 75 }, '2026-11-25T10:00:30.000Z')).toBe(first);
    expect(nextRebalance(first, undefined, '2026-11-25T10:00:30.000Z')).toBe(first);
    expect(nextRebalance(first, { from: 75, to: 50 }, '2026-11-25T10:01:00.000Z')).toEqual({
      fromShare: 75,
      toShare: 50,
      fraction: 0.6667,
      since: '2026-11-25T10:01:00.000Z',
    });
    expect(nextRebalance(first, { from: 50, to: 75 }, '2026-11-25T10:01:00.000Z')).toBe(first);
  });

  it("writes the drain switch's file: true while drained, the rebalance with a TTL to spread over, else false", () => {
    const by = 'reservation-operator-eks-green';
    const rebalance = { fromShare: 100, toShare: 75, fraction: 0.25, since: SINCE };
    expect(drainSwitchValue(undefined, 5)).toBe('false');
    expect(drainSwitchValue({ by, since: SINCE, weight: 75 }, 5)).toBe('false');
    expect(JSON.parse(drainSwitchValue({ by, since: SINCE, weight: 75, rebalance }, 5))).toEqual({
      fraction: 0.25,
      since: SINCE,
      spreadSeconds: 5,
    });
    expect(drainSwitchValue({ by, since: SINCE, weight: 0, connectionClose: true, rebalance }, 5)).toBe('true');
  });

  it("asks the peer for a rebalance in the batch that lowers the peer's share, and leaves the label as it is otherwise", () => {
    // Weights seen from the cutover's side: self is this cluster, peer the one losing traffic.
    expect(rebalanceLabel({ self: 0, peer: 100 }, { self: 10, peer: 90 }, undefined)).toEqual({ from: 100, to: 90 });
    expect(rebalanceLabel({ self: 10, peer: 90 }, { self: 10, peer: 90 }, { from: 100, to: 90 })).toEqual({ from: 100, to: 90 });
    // An abort raises the peer's share again: no rebalance there.
    expect(rebalanceLabel({ self: 50, peer: 50 }, { self: 25, peer: 75 }, { from: 75, to: 50 })).toBeUndefined();
    // Weights that were not share-based before the cutover: the share Route53 gives them.
    expect(rebalanceLabel({ self: 0, peer: 200 }, { self: 50, peer: 50 }, undefined)).toEqual({ from: 100, to: 50 });
  });
});
