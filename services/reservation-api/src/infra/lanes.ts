/**
 * A bulkhead per key: at most `width` calls of one key run at once; the rest wait their turn in
 * order, holding nothing, and past `queueLimit` waiting for one key a call is refused at once with
 * `full()`. Keys are independent: a busy one never delays another.
 *
 * Bookings of one resource commit one at a time anyway (they queue on its row lock), so a lane
 * two wide keeps the same pace (one booking at the lock, the next already waiting there for the
 * server to hand it over) while the other waiters hold no database connection.
 */
export interface Lanes {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Calls waiting for their turn, over every key. */
  readonly waiting: number;
}

export function createLanes({ width, queueLimit, full }: { width: number; queueLimit: number; full: () => Error }): Lanes {
  /** Only busy keys have a lane: it goes when its last call ends. */
  const lanes = new Map<string, { running: number; queue: (() => void)[] }>();
  let waiting = 0;
  return {
    async run(key, work) {
      let lane = lanes.get(key);
      if (!lane) {
        lane = { running: 0, queue: [] };
        lanes.set(key, lane);
      }
      if (lane.running < width) lane.running++;
      else {
        if (lane.queue.length >= queueLimit) throw full();
        waiting++;
        // The call ending hands its place straight over: `running` stays as it is.
        await new Promise<void>((resolve) => lane?.queue.push(resolve));
        waiting--;
      }
      try {
        return await work();
      } finally {
        const next = lane.queue.shift();
        if (next) next();
        else if (--lane.running === 0) lanes.delete(key);
      }
    },
    get waiting() {
      return waiting;
    },
  };
}
