/** Where a webhook endpoint's breaker stands. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSettings {
  /** Consecutive failures (timeouts, connection errors, 5xx) that open it. */
  failureThreshold: number;
  /** How long it stays open before its trial; each opening adds up to half of it at random. */
  coolDownMs: number;
}

export type Admission =
  /** Attempt it. `trial`: the one attempt of a half-open breaker, whose result decides. */
  | { go: true; trial: boolean }
  /** Open: not attempted; it waits until `untilMs`, the end of the cool-down. */
  | { go: false; untilMs: number }
  /** Half-open with its trial under way: not attempted; it waits for the trial's result. */
  | { go: false; untilMs?: undefined };

export interface Transition {
  from: BreakerState;
  to: BreakerState;
  /** Consecutive failures when it changed. */
  failures: number;
  /** The end of the cool-down, when it opened. */
  untilMs?: number;
}

/**
 * One endpoint's circuit breaker, with no I/O: closed (attempts go; consecutive failures counted)
 * → open after `failureThreshold` of them (nothing goes until the cool-down is over, jittered so
 * that replicas and endpoints do not try again in step) → half-open (one trial goes) → closed if
 * the trial succeeds, open again if it fails. Results of attempts that were not admitted in the
 * current state (still in flight when it opened) change nothing: only the trial decides.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #untilMs = 0;
  #trialUnderWay = false;
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(settings: BreakerSettings, now: () => number, random: () => number = Math.random) {
    this.#settings = settings;
    this.#now = now;
    this.#random = random;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Closed with no failure on record: nothing worth keeping. */
  get idle(): boolean {
    return this.#state === 'closed' && this.#failures === 0;
  }

  /** Half-open with its trial in flight: nothing else goes until it ends. */
  get trialUnderWay(): boolean {
    return this.#trialUnderWay;
  }

  /** May an attempt start now? An open breaker whose cool-down is over turns half-open here. */
  admit(): { admission: Admission; transition?: Transition } {
    let transition: Transition | undefined;
    if (this.#state === 'open') {
      if (this.#now() < this.#untilMs) return { admission: { go: false, untilMs: this.#untilMs } };
      transition = this.#move('half-open');
    }
    if (this.#state === 'half-open') {
      if (this.#trialUnderWay) return { admission: { go: false }, ...(transition ? { transition } : {}) };
      this.#trialUnderWay = true;
      return { admission: { go: true, trial: true }, ...(transition ? { transition } : {}) };
    }
    return { admission: { go: true, trial: false } };
  }

  /** The result of an admitted attempt: `failure` for a timeout, a connection error or a 5xx. */
  record(outcome: 'success' | 'failure', trial: boolean): Transition | undefined {
    if (trial) {
      if (this.#state !== 'half-open' || !this.#trialUnderWay) return undefined;
      this.#trialUnderWay = false;
      if (outcome === 'success') {
        this.#failures = 0;
        return this.#move('closed');
      }
      this.#failures++;
      return this.#open();
    }
    if (this.#state !== 'closed') return undefined;
    if (outcome === 'success') {
      this.#failures = 0;
      return undefined;
    }
    this.#failures++;
    return this.#failures >= this.#settings.failureThreshold ? this.#open() : undefined;
  }

  /** A trial that made no attempt after all (its delivery was gone): the next admission is the trial. */
  abandon(trial: boolean): void {
    if (trial && this.#state === 'half-open') this.#trialUnderWay = false;
  }

  #open(): Transition {
    const { coolDownMs } = this.#settings;
    this.#untilMs = this.#now() + coolDownMs + Math.floor(this.#random() * (coolDownMs / 2));
    return { ...this.#move('open'), untilMs: this.#untilMs };
  }

  #move(to: BreakerState): Transition {
    const from = this.#state;
    this.#state = to;
    return { from, to, failures: this.#failures };
  }
}
