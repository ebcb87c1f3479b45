import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from '../../src/domain/circuit-breaker.ts';

function breaker({ threshold = 3, coolDownMs = 1000, random = (): number => 0 } = {}) {
  const clock = { now: 10_000 };
  const b = new CircuitBreaker({ failureThreshold: threshold, coolDownMs }, () => clock.now, random);
  return { b, clock };
}

const fail = (b: CircuitBreaker, times: number, trial = false) => {
  const transitions = [];
  for (let i = 0; i < times; i++) transitions.push(b.record('failure', trial));
  return transitions;
};

describe('webhook endpoint circuit breaker', () => {
  it('lets attempts go while closed and opens on the Nth consecutive failure, once', () => {
    const { b } = breaker({ threshold: 3 });
    expect(b.admit()).toEqual({ admission: { go: true, trial: false } });
    expect(fail(b, 2)).toEqual([undefined, undefined]);
    expect(b.state).toBe('closed');
    expect(b.record('failure', false)).toEqual({ from: 'closed', to: 'open', failures: 3, untilMs: 11_000 });
    // Stragglers that were in flight when it opened change nothing: one transition, one log line.
    expect(fail(b, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(b.record('success', false)).toBeUndefined();
    expect(b.state).toBe('open');
  });

  it('counts consecutive failures only: a success in between starts again', () => {
    const { b } = breaker({ threshold: 3 });
    fail(b, 2);
    b.record('success', false);
    expect(b.idle).toBe(true);
    fail(b, 2);
    expect(b.state).toBe('closed');
    expect(b.idle).toBe(false);
  });

  it('admits nothing while open, naming the end of the cool-down; then one trial, the others wait for it', () => {
    const { b, clock } = breaker({ threshold: 1, coolDownMs: 1000 });
    b.record('failure', false);
    expect(b.admit()).toEqual({ admission: { go: false, untilMs: 11_000 } });
    clock.now = 10_999;
    expect(b.admit()).toEqual({ admission: { go: false, untilMs: 11_000 } });
    clock.now = 11_000;
    expect(b.admit()).toEqual({
      admission: { go: true, trial: true },
      transition: { from: 'open', to: 'half-open', failures: 1 },
    });
    expect(b.trialUnderWay).toBe(true);
    expect(b.admit()).toEqual({ admission: { go: false } });
    expect(b.admit()).toEqual({ admission: { go: false } });
  });

  it('closes when the trial succeeds', () => {
    const { b, clock } = breaker({ threshold: 2 });
    fail(b, 2);
    clock.now += 1000;
    b.admit();
    // A straggler's success is not the trial's.
    expect(b.record('success', false)).toBeUndefined();
    expect(b.state).toBe('half-open');
    expect(b.record('success', true)).toEqual({ from: 'half-open', to: 'closed', failures: 0 });
    expect(b.idle).toBe(true);
    expect(b.admit()).toEqual({ admission: { go: true, trial: false } });
  });

  it('opens again for a new cool-down when the trial fails', () => {
    const { b, clock } = breaker({ threshold: 2, coolDownMs: 1000 });
    fail(b, 2);
    clock.now = 11_500;
    b.admit();
    expect(b.record('failure', true)).toEqual({ from: 'half-open', to: 'open', failures: 3, untilMs: 12_500 });
    expect(b.trialUnderWay).toBe(false);
    expect(b.admit()).toEqual({ admission: { go: false, untilMs: 12_500 } });
  });

  it('jitters the cool-down by up to half of it', () => {
    const { b } = breaker({ threshold: 1, coolDownMs: 1000, random: () => 0.999 });
    expect(b.record('failure', false)?.untilMs).toBe(10_000 + 1000 + 499);
  });

  it('gives the trial to the next admission when it made no attempt', () => {
    const { b, clock } = breaker({ threshold: 1 });
    b.record('failure', false);
    clock.now += 2000;
    expect(b.admit().admission).toEqual({ go: true, trial: true });
    b.abandon(true);
    expect(b.state).toBe('half-open');
    expect(b.trialUnderWay).toBe(false);
    expect(b.admit()).toEqual({ admission: { go: true, trial: true } });
  });
});
