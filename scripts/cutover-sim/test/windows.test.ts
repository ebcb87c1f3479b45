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

  it('a step that never settled has no window', () => {
    const tracker = stepWindowTracker([50, 100], 5);
    tracker.observe({ phase: 'Progressing', step: 0, share: 50 }, t(0));
    tracker.observe({ phase: 'Progressing', step: 1, share: 100 }, t(3));
    tracker.close(t(4));
    expect(tracker.windows()).toEqual([]);
  });
});
