/** Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): a random delay up to base·2^attempt. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * baseDelayMs * 2 ** attempt);
}

/** Full jitter with a ceiling: the delay before attempt `attempt + 1`, never more than `maxMs`. */
export function cappedBackoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.min(maxMs, backoffDelay(Math.min(attempt, 30), baseMs, random));
}
