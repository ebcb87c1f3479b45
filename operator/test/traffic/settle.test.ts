import { describe, expect, it } from '@jest/globals';
import { OBSERVE_POLL_MS, observationOf, observedPercent, type SettleSettings, settleStep } from '../../src/traffic/settle.ts';

const SYNCED = new Date('2026-11-25T10:00:00Z');
const TTL_MS = 5_000;
const settings: SettleSettings = { observed: true, tolerancePoints: 3, windowMs: 30_000, maxWaitMs: 60_000 };
const at = (ms: number) => new Date(SYNCED.getTime() + ms);
const base = { share: 50, syncedAt: SYNCED, ttlMs: TTL_MS, settings };

describe('the observed share', () => {
  it("is this cluster's share of both clusters' requests, none without requests", () => {
    expect(observedPercent({ self: 1, peer: 2 })).toBe(33.3);
    expect(observedPercent({ self: 0, peer: 0 })).toBeUndefined();
    expect(observationOf(50, { at: SYNCED, windowMs: 5000, requests: { self: 470, peer: 530 } })).toEqual({
      configuredShare: 50,
      share: 47,
      requests: { self: 470, peer: 530 },
      windowSeconds: 5,
      at: '2026-11-25T10:00:00Z',
      message: 'observed 47% for 50% configured (470 here, 530 at the peer over 5s)',
    });
    expect(observationOf(50, { at: SYNCED, windowMs: 5000, error: 'connection refused' }).message).toBe(
      'could not measure the observed share: connection refused',
    );
    expect(observationOf(50, { at: SYNCED, windowMs: 5000, requests: { self: 0, peer: 0 } }).message).toBe(
      'no requests in either cluster over 5s',
    );
  });
});

describe('settling a step', () => {
  it('measures first over the time since the step was in sync, never before it, growing to settle.window', () => {
    expect(settleStep({ ...base, now: at(TTL_MS) })).toMatchObject({ kind: 'measure', windowMs: 5000 });
    expect(settleStep({ ...base, now: at(12_400) })).toMatchObject({ kind: 'measure', windowMs: 12_000 });
    expect(settleStep({ ...base, now: at(50_000) })).toMatchObject({ kind: 'measure', windowMs: 30_000 });
  });

  it('is settled by a measurement within the tolerance, on either side', () => {
    for (const self of [470, 530]) {
      const d = settleStep({
        ...base,
        now: at(TTL_MS),
        measured: { at: at(TTL_MS), windowMs: 5000, requests: { self, peer: 1000 - self } },
      });
      expect(d).toMatchObject({ kind: 'settled', how: 'Observed', observed: { share: self / 10, settled: 'Observed' } });
    }
  });

  it('waits out of the tolerance, with or without data, and measures again a poll later', () => {
    const measured = { at: at(TTL_MS), windowMs: 5000, requests: { self: 400, peer: 600 } };
    const waiting = settleStep({ ...base, now: at(TTL_MS), measured });
    expect(waiting).toMatchObject({ kind: 'wait', ms: OBSERVE_POLL_MS, observed: { share: 40 } });
    expect(waiting.message).toBe(
      '50% in sync; waiting for the traffic to follow: observed 40% for 50% configured (400 here, 600 at the peer over 5s), outside ±3 points (going on anyway at 2026-11-25T10:01:05Z)',
    );
    const last = waiting.observed;
    expect(settleStep({ ...base, last, now: at(TTL_MS + 1000) })).toMatchObject({ kind: 'wait', ms: OBSERVE_POLL_MS - 1000 });
    expect(settleStep({ ...base, last, now: at(TTL_MS + OBSERVE_POLL_MS) })).toMatchObject({ kind: 'measure' });
    const failed = settleStep({ ...base, now: at(TTL_MS), measured: { at: at(TTL_MS), windowMs: 5000, error: 'timeout' } });
    expect(failed).toMatchObject({
      kind: 'wait',
      observed: { configuredShare: 50, message: 'could not measure the observed share: timeout' },
    });
  });

  it("ignores an observation of another step, or taken before this one's TTL", () => {
    const other = { configuredShare: 25, share: 25, at: at(TTL_MS).toISOString(), message: 'observed 25%' };
    expect(settleStep({ ...base, last: other, now: at(TTL_MS) })).toMatchObject({ kind: 'measure' });
    const early = { configuredShare: 50, share: 50, at: at(TTL_MS - 1).toISOString(), message: 'observed 50%' };
    expect(settleStep({ ...base, last: early, now: at(TTL_MS) })).toMatchObject({ kind: 'measure' });
  });

  it('goes on at the bound, settle.maxWait after the TTL, saying what it saw', () => {
    const last = { configuredShare: 50, share: 41.5, at: at(60_000).toISOString(), message: 'observed 41.5%' };
    expect(settleStep({ ...base, last, now: at(TTL_MS + 59_999) })).toMatchObject({ kind: 'wait', ms: 1000 });
    const bound = settleStep({ ...base, last, now: at(TTL_MS + 60_000) });
    expect(bound).toMatchObject({ kind: 'settled', how: 'Bound', observed: { share: 41.5, settled: 'Bound' } });
    expect(bound.message).toBe('50% in sync, but observed 41.5%, outside ±3 points after 60s (settle.maxWait): going on');
    const never = settleStep({ ...base, now: at(TTL_MS + 60_000) });
    expect(never).toMatchObject({ kind: 'settled', how: 'Bound', observed: { configuredShare: 50, settled: 'Bound' } });
    expect(never.message).toContain('but no observation, outside');
  });

  it('stays settled once it has, without measuring again or a second Warning', () => {
    const bound = settleStep({ ...base, now: at(TTL_MS + 60_000) });
    const again = settleStep({ ...base, last: bound.observed, now: at(TTL_MS + 90_000) });
    expect(again).toMatchObject({ kind: 'settled', how: 'Bound', again: true });
    const observed = {
      configuredShare: 50,
      share: 49,
      at: at(TTL_MS).toISOString(),
      settled: 'Observed' as const,
      message: 'observed 49%',
    };
    expect(settleStep({ ...base, last: observed, now: at(TTL_MS + 30_000) })).toMatchObject({
      kind: 'settled',
      how: 'Observed',
      again: true,
    });
  });

  it('without a Prometheus, settles at once (in sync for a TTL, as before) and says so', () => {
    const d = settleStep({ ...base, settings: { ...settings, observed: false }, now: at(TTL_MS) });
    expect(d).toMatchObject({ kind: 'settled', how: 'Unobserved' });
    expect(d.observed?.message).toBe(
      'no settle (spec.traffic.cutover.settle, with .prometheus): 50% counts once in sync for a TTL, not by observed traffic',
    );
  });
});
