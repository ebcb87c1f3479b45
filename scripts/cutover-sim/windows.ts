import type { StepWindow } from './accounting.ts';

/** What the tracker reads of green's status.traffic.cutover. */
export interface CutoverObservation {
  phase: string;
  step: number;
  share: number;
  syncedAt?: string;
  history?: { at: string; event: string; message: string }[];
}

/**
 * Follows green's cutover status (polled) and cuts each setShare step's settled window: it opens
 * one TTL after `syncedAt` (Route53 serves the step everywhere, and cached answers have had a TTL
 * to expire) and closes when the next step's weights are written (the history's WeightsChanging
 * entry, or when the tracker first sees the new share). The last step's window is closed by the
 * caller (`close`), when blue stops. Timestamps in the status have whole seconds.
 */
export function stepWindowTracker(shares: readonly number[], ttlSeconds: number) {
  const planned = new Set(shares);
  const windows: StepWindow[] = [];
  let current: { step: number; share: number; from?: number } | undefined;

  const closeCurrent = (to: number) => {
    if (current?.from !== undefined)
      windows.push({ step: current.step, share: current.share, from: current.from, to: Math.max(current.from, to) });
    current = undefined;
  };

  return {
    observe(c: CutoverObservation, now: number): void {
      if (current && c.share !== current.share) {
        const was = current.share;
        const changing = c.history?.findLast((h) => h.event === 'WeightsChanging' && h.message.startsWith(`${was}% → ${c.share}%`));
        closeCurrent(changing ? Math.min(now, Date.parse(changing.at)) : now);
      }
      if (!current && planned.has(c.share) && !windows.some((w) => w.share === c.share)) current = { step: c.step, share: c.share };
      if (current && current.from === undefined && c.syncedAt) current.from = Date.parse(c.syncedAt) + ttlSeconds * 1000;
    },
    /** Ends the open window (the last step's) at `now`. */
    close(now: number): void {
      closeCurrent(now);
    },
    /** The windows so far, the open one up to `now`. */
    windows(now?: number): StepWindow[] {
      if (now === undefined || current?.from === undefined) return [...windows];
      return [...windows, { step: current.step, share: current.share, from: current.from, to: Math.max(current.from, now) }];
    },
  };
}
