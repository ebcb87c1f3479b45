import { backoffDelay } from '@reservations/service-kit/backoff';
import { bucketRateLimiter, type Clock, realClock } from '../../controller/workqueue.ts';

/**
 * Every Route53 call goes through one gate: a client-side token bucket (Route53 allows 5
 * requests per second per AWS account, shared with ExternalDNS and everyone else in it:
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests),
 * and exponential backoff with full jitter when Route53 still answers `Throttling` or
 * `PriorRequestNotComplete` (a change to the same zone is still being processed).
 *
 * The SDK's own retries are switched off (`maxAttempts: 1` on the client): with both, each of
 * our attempts would be up to three of the SDK's, and the bucket would no longer bound the rate.
 */

export const RETRYABLE_ERRORS: ReadonlySet<string> = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete']);

export interface GateOptions {
  /** Sustained calls per second (default 2: well under the account's 5, which others share). */
  qps?: number;
  burst?: number;
  /** Tries per call, the first included (default 6). */
  maxAttempts?: number;
  /** Backoff of attempt n: a random delay up to min(maxDelayMs, baseDelayMs · 2^n). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Told about every retried call (for logs). */
  onRetry?: (info: { operation: string; error: string; attempt: number; delayMs: number }) => void;
  /** Told about every attempt: `ok` or the error's name, and how long it took (for metrics). */
  onAttempt?: (info: { operation: string; result: string; seconds: number }) => void;
}

export type CallGate = <T>(operation: string, call: () => Promise<T>) => Promise<T>;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const errorName = (err: unknown): string => (err instanceof Error ? err.name : typeof err === 'string' ? err : 'Error');

/** 2 calls/s sustained, well under the account's 5, which others share; 5 at once. */
export const DEFAULT_ROUTE53_RATE = { qps: 2, burst: 5 } as const;

export function createCallGate(options: GateOptions = {}): CallGate {
  const {
    qps = DEFAULT_ROUTE53_RATE.qps,
    burst = DEFAULT_ROUTE53_RATE.burst,
    maxAttempts = 6,
    baseDelayMs = 250,
    maxDelayMs = 10_000,
  } = options;
  const { clock = realClock, sleep = realSleep, random = Math.random, onRetry, onAttempt } = options;
  const bucket = bucketRateLimiter(qps, burst, clock);
  return async (operation, call) => {
    for (let attempt = 0; ; attempt++) {
      const wait = bucket.when(operation);
      if (wait > 0) await sleep(wait);
      const started = clock.now();
      const observe = (result: string) => onAttempt?.({ operation, result, seconds: (clock.now() - started) / 1000 });
      try {
        const answer = await call();
        observe('ok');
        return answer;
      } catch (err) {
        const name = errorName(err);
        observe(name);
        if (!RETRYABLE_ERRORS.has(name) || attempt + 1 >= maxAttempts) throw err;
        const delayMs = Math.min(maxDelayMs, backoffDelay(attempt, baseDelayMs, random));
        onRetry?.({ operation, error: name, attempt: attempt + 1, delayMs });
        await sleep(delayMs);
      }
    }
  };
}
