import { describe, expect, it } from '@jest/globals';
import { stepWindowTracker } from '../windows.ts';

const t = (s: number) => Date.parse('2026-01-01T00:00:00Z') + s * 1000;
const iso = (s: number) => new Date(t(s)).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('stepWindowTracker', () => {
  it('opens a step’s window one TTL after it is in sync and closes it when the next step’s weights are written', () => {
    const tracker = stepWindowTracker([25, 100], 5);
    tracker.observe({ phase: 'Progressing', step: 0, share: 0, syncedAt: iso(0) }, t(0)); // the start share: no window
    tracker.observe({ phase: 'Progressing', step: 0, share: 25 }, t(1)); // written, not in sync yet
    expect(tracker.windows(t(2))).toEqual([]);
    tracker.observe({ phase: 'Progressing', step: 0, share: 25, syncedAt: iso(6) }, t(7));
    tracker.observe({ phase: 'Paused', step: 1, share: 25, syncedAt: iso(6) }, t(20));
    expect(tracker.windows(t(20))).toEqual([{ step: 0, share: 25, from: t(11), to: t(20) }]);
    // Seen late: the window ends when the history says the weights changed, not when the tracker noticed.
    tracker.observe(
      {
        phase: 'Progressing',
        step: 2,
        share: 100,
        history: [{ at: iso(41), event: 'WeightsChanging', message: '25% → 100%: writing weights 100 (here) / 0 (eks-blue)' }],
      },
      t(43),
    );
    tracker.observe({ phase: 'Succeeded', step: 3, share: 100, syncedAt: iso(45) }, t(60));
    tracker.close(t(70));
    expect(tracker.windows()).toEqual([
      { step: 0, share: 25, from: t(11), to: t(41) },
      { step: 2, share: 100, from: t(50), to: t(70) },
    ]);
  });

  it("with the settle rule, opens a step's window when the operator counted it, and keeps the operator's observed share", () => {
    const tracker = stepWindowTracker([50, 100], 5, 'traffic');
    tracker.observe({ phase: 'Progressing', step: 0, share: 50, syncedAt: iso(6) }, t(7));
    // In sync for a TTL, but waiting for the traffic: no window yet.
    tracker.observe({ phase: 'Progressing', step: 0, share: 50, syncedAt: iso(6), observed: { configuredShare: 50, share: 41 } }, t(12));
    expect(tracker.windows(t(12))).toEqual([]);
    tracker.observe(
      {
        phase: 'Progressing',
        step: 1,
        share: 50,
        syncedAt: iso(6),
        observed: { configuredShare: 50, share: 48.5, settled: 'Observed' },
        history: [{ at: iso(19), event: 'StepCompleted', message: 'step 1 of 2: 50% verified and held for one TTL' }],
      },
      t(20),
    );
    tracker.close(t(40));
    expect(tracker.windows()).toEqual([{ step: 0, share: 50, from: t(19), to: t(40), operatorObserved: 48.5 }]);
  });

  it('a step that never settled has no window', () => {
    const tracker = stepWindowTracker([50, 100], 5);
    tracker.observe({ phase: 'Progressing', step: 0, share: 50 }, t(0));
    tracker.observe({ phase: 'Progressing', step: 1, share: 100 }, t(3));
    tracker.close(t(4));
    expect(tracker.windows()).toEqual([]);
  });
});
