/** Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): a random delay up to base·2^attempt. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * baseDelayMs * 2 ** attempt);
}
