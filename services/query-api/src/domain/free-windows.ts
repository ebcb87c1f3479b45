export interface Interval {
  start: Date;
  end: Date;
}

/**
 * The parts of `window` where fewer than `capacity` of `taken` overlap: a sweep over the
 * start (+1) and end (−1) points, half-open intervals, adjacent free pieces merged.
 */
export function freeWindows(taken: Interval[], window: Interval, capacity: number): Interval[] {
  const edges: [number, number][] = [];
  for (const t of taken) {
    const start = Math.max(t.start.getTime(), window.start.getTime());
    const end = Math.min(t.end.getTime(), window.end.getTime());
    if (start < end) edges.push([start, 1], [end, -1]);
  }
  // At one instant, ends come before starts: [10,11) and [11,12) never overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const free: Interval[] = [];
  let load = 0;
  let cursor = window.start.getTime();
  const emit = (until: number) => {
    if (load < capacity && cursor < until) {
      const last = free.at(-1);
      if (last && last.end.getTime() === cursor) last.end = new Date(until);
      else free.push({ start: new Date(cursor), end: new Date(until) });
    }
    cursor = until;
  };
  for (const [at, delta] of edges) {
    emit(at);
    load += delta;
  }
  emit(window.end.getTime());
  return free;
}
