import { cappedBackoffDelay } from '@reservations/service-kit';

/** The delay before attempt `attempts + 1`: full jitter, capped (AWS architecture blog, "Exponential Backoff and Jitter"). */
export const retryDelay = cappedBackoffDelay;

/** The visibility timeout a failed message gets: doubling per receive, within SQS's 12-hour cap. */
export function retryVisibility(receiveCount: number, baseSeconds: number): number {
  return Math.min(43_200, baseSeconds * 2 ** Math.max(0, Math.min(receiveCount - 1, 14)));
}
