/** A signal for one call: it aborts when the call's time is up or its caller gives up, until the call is over. */
export interface CallSignal {
  signal: AbortSignal;
  /** Whether it aborted because the time was up (not the caller). */
  readonly timedOut: boolean;
  /** The call is over: the timer and the link to the caller's signal go now. */
  clear(): void;
}

/**
 * A signal that aborts after `ms` (with a `TimeoutError`, as `AbortSignal.timeout`'s) or when
 * `parent` aborts (with its reason), whichever comes first, until `clear()`. Unlike
 * `AbortSignal.timeout` and `AbortSignal.any`, whose timer and links live until the time is up, it
 * holds nothing once cleared: a client making thousands of short requests with a 30 s timeout
 * otherwise keeps thousands of timers, signals and weak references alive (and promoted to the old
 * generation) at any moment.
 */
export function timeoutSignal(ms: number, parent?: AbortSignal): CallSignal {
  const controller = new AbortController();
  let timedOut = false;
  const onParent = () => controller.abort(parent?.reason);
  const timer = setTimeout(() => {
    if (controller.signal.aborted) return; // the caller gave up first
    timedOut = true;
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref(); // as AbortSignal.timeout's: it keeps no process alive
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}
