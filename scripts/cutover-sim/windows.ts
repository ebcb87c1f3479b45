import type { StepWindow } from './accounting.ts';

/** What the tracker reads of green's status.traffic.cutover. */
export interface CutoverObservation {
  phase: string;
  step: number;
  share: number;
  syncedAt?: string;
  history?: { at: string; event: string; message: string }[];
  /** The operator's observed share (spec settle), for the step of `configuredShare`. */
  observed?: { configuredShare: number; share?: number; settled?: string };
}

/**
 * Follows green's cutover status (polled) and cuts each setShare step's settled window: it opens
 * one TTL after `syncedAt` (Route53 serves the step everywhere, and cached answers have had a TTL
 * to expire) or, with `settledBy: 'traffic'` (the cutover's settle rule), when the operator
 * counted the step (its StepCompleted entry, once the observed share had arrived), and closes
 * when the next step's weights are written (the history's WeightsChanging entry, or when the
 * tracker first sees the new share). The last step's window is closed by the caller (`close`),
 * when blue stops. Timestamps in the status have whole seconds. Each window keeps the operator's
 * own observed share of the step, when it had one.
 */
export function stepWindowTracker(shares: readonly number[], ttlSeconds: number, settledBy: 'ttl' | 'traffic' = 'ttl') {
  const planned = new Set(shares);
  const windows: StepWindow[] = [];
  let current: { step: number; share: number; from?: number; operatorObserved?: number } | undefined;

  const closeCurrent = (to: number) => {
    if (current?.from !== undefined)
      windows.push({
        step: current.step,
        share: current.share,
        from: current.from,
        to: Math.max(current.from, to),
        ...(current.operatorObserved !== undefined ? { operatorObserved: current.operatorObserved } : {}),
      });
    current = undefined;
  };
  const settledAt = (c: CutoverObservation, share: number): number | undefined => {
    if (!c.syncedAt) return undefined;
    const afterTtl = Date.parse(c.syncedAt) + ttlSeconds * 1000;
    if (settledBy === 'ttl') return afterTtl;
    const completed = c.history?.findLast((h) => h.event === 'StepCompleted' && h.message.includes(`: ${share}% verified and held`));
    return completed ? Math.max(afterTtl, Date.parse(completed.at)) : undefined;
  };

  return {
    observe(c: CutoverObservation, now: number): void {
      if (current && c.share !== current.share) {
        const was = current.share;
        const changing = c.history?.findLast((h) => h.event === 'WeightsChanging' && h.message.startsWith(`${was}% → ${c.share}%`));
        closeCurrent(changing ? Math.min(now, Date.parse(changing.at)) : now);
      }
      if (!current && planned.has(c.share) && !windows.some((w) => w.share === c.share)) current = { step: c.step, share: c.share };
      if (current && current.from === undefined) current.from = settledAt(c, current.share);
      if (current && c.observed?.configuredShare === current.share && c.observed.settled && c.observed.share !== undefined)
        current.operatorObserved = c.observed.share;
    },
    /** Ends the open window (the last step's) at `now`. */
    close(now: number): void {
      closeCurrent(now);
    },
    /** The windows so far, the open one up to `now`. */
    windows(now?: number): StepWindow[] {
      if (now === undefined || current?.from === undefined) return [...windows];
      const { operatorObserved } = current;
      return [
        ...windows,
        {
          step: current.step,
          share: current.share,
          from: current.from,
          to: Math.max(current.from, now),
          ...(operatorObserved !== undefined ? { operatorObserved } : {}),
        },
      ];
    },
  };
}
