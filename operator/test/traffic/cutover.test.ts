import { describe, expect, it } from '@jest/globals';
import type { AnalysisRun, CutoverStatus } from '../../src/api/v1alpha1/reservation.ts';
import {
  abortShares,
  type CutoverDecision,
  type CutoverInput,
  decide,
  firstStep,
  type PacingMeasured,
  TAKE_BACK_WAIT_MS,
} from '../../src/traffic/cutover.ts';
import type { PacingMeasurement, PacingSettings } from '../../src/traffic/pacing.ts';
import { buildPlan, type Plan, type PlanSpec } from '../../src/traffic/plan.ts';
import type { Floors, ReadyPods } from '../../src/traffic/prescale.ts';
import type { SettleSettings } from '../../src/traffic/settle.ts';
import { verbError } from '../../src/traffic/verbs.ts';
import type { ShareWeights } from '../../src/traffic/weights.ts';

const TTL = 30;
const planOf = (cutover: Omit<PlanSpec, 'from'>): Plan => {
  const result = buildPlan({ from: 'eks-blue', ...cutover }, 'eks-green');
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.plan;
};

/**
 * Drives the machine the way the controller does: whatever weights it asks for, Route53 takes
 * (PENDING on the first look, INSYNC on the next), and the clock moves by what it asks to wait.
 */
class Drive {
  now = new Date('2026-11-25T10:00:00Z');
  served: ShareWeights;
  pending?: ShareWeights;
  status?: CutoverStatus;
  request?: string;
  last!: CutoverDecision;
  written: ShareWeights[] = [];
  events: string[] = [];
  /** The settle rule, and both clusters' requests its measurements see (by the served weights). */
  settle?: SettleSettings;
  traffic?: (served: ShareWeights) => { self: number; peer: number };

  readonly plan: Plan;
  readonly fingerprint: string;
  /** With pacing: its settings, and what Prometheus answers for a step when asked (as cutover-sync does). */
  pacing?: { settings: PacingSettings; answer: (asked: { step: number; since: string }, now: Date) => PacingMeasurement | Error };
  /** The pacing measurements asked for. */
  asked: { step: number; since: string }[] = [];
  /** With prescale: what Prometheus says of the peer's capacity when an abort asks. */
  takeBack?: (now: Date) => { needed: Floors; ready: ReadyPods } | Error;
  /** The take-back measurements asked for. */
  takeBackAsked = 0;

  constructor(plan: Plan, start: ShareWeights = { self: 0, peer: 100 }, fingerprint = 'plan-1') {
    this.plan = plan;
    this.served = start;
    this.fingerprint = fingerprint;
  }

  decide(): CutoverDecision {
    if (this.pending) {
      this.served = this.pending;
      this.pending = undefined;
    }
    const input: CutoverInput = {
      plan: this.plan,
      fingerprint: this.fingerprint,
      status: this.status,
      verified: this.pending ? undefined : this.served,
      request: this.request,
      analysis: { slo: { interval: '30s', inconclusive: 'Pause' as const }, strict: { interval: '30s', inconclusive: 'Abort' as const } },
      ttlSeconds: TTL,
      drainTtls: 2,
      ...(this.settle ? { settle: this.settle } : {}),
      ...(this.pacing ? { pacing: { settings: this.pacing.settings } } : {}),
      ...(this.takeBack ? { takeBack: {} } : {}),
      now: this.now,
    };
    this.last = decide(input);
    // As the controller does: the measurement asked for, then the machine again with it.
    if (this.last.measureShare && this.traffic) {
      this.events.push(...this.last.events.map((e) => e.reason));
      const measuredShare = { at: this.now, windowMs: this.last.measureShare.windowMs, requests: this.traffic(this.served) };
      this.last = decide({ ...input, request: undefined, status: this.last.status, measuredShare });
    }
    this.events.push(...this.last.events.map((e) => e.reason));
    const asked = this.last.measurePacing;
    if (asked && this.pacing) {
      this.asked.push(asked);
      const answer = this.pacing.answer(asked, this.now);
      const measured: PacingMeasured | Error = answer instanceof Error ? answer : { ...asked, ...answer };
      this.last = decide({ ...input, request: undefined, status: this.last.status, pacing: { settings: this.pacing.settings, measured } });
      this.events.push(...this.last.events.map((e) => e.reason));
    }
    if (this.last.measureTakeBack && this.takeBack) {
      this.takeBackAsked += 1;
      const measured = this.takeBack(this.now);
      this.last = decide({ ...input, request: undefined, status: this.last.status, takeBack: { measured } });
      this.events.push(...this.last.events.map((e) => e.reason));
    }
    this.status = this.last.status;
    const { weights } = this.last;
    if (weights.self !== this.served.self || weights.peer !== this.served.peer) {
      this.pending = weights;
      this.written.push(weights);
    }
    return this.last;
  }

  /** Decide, then let time pass as asked (at least a second), `times` times. */
  run(times: number) {
    for (let i = 0; i < times; i++) {
      this.decide();
      this.now = new Date(this.now.getTime() + (this.last.requeueAfterMs ?? 1000));
    }
    return this.status as CutoverStatus;
  }
}

const analysisRun = (step: number, result: AnalysisRun['result'], at: string): AnalysisRun => ({
  template: 'slo',
  step,
  result,
  measurements: 3,
  failures: result === 'Failed' ? 1 : 0,
  inconclusive: result === 'Inconclusive' ? 1 : 0,
  message: `measured ${result}`,
  startedAt: at,
  measuredAt: at,
});

describe('a cutover run', () => {
  it('moves the share step by step, each step verified INSYNC and held one TTL, then drains the peer', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 25 }, { pause: { duration: '1m' } }, { setShare: 50 }, { setShare: 100 }] }));
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Progressing', step: 0, startShare: 0, share: 25, weights: { self: 25, peer: 75 } });
    expect(drive.last.weights).toEqual({ self: 25, peer: 75 });

    // INSYNC now: the step still waits one TTL before counting.
    const now = drive.now.getTime();
    drive.decide();
    expect(drive.status).toMatchObject({ step: 0, syncedAt: drive.now.toISOString().replace('.000', '') });
    expect(drive.last.requeueAfterMs).toBe(TTL * 1000);
    expect(drive.status?.message).toContain('waiting one TTL');

    drive.now = new Date(now + TTL * 1000);
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Paused', step: 1 });
    expect(drive.last.requeueAfterMs).toBe(60_000);

    const done = drive.run(20);
    expect(done).toMatchObject({ phase: 'Succeeded', step: 4, share: 100, weights: { self: 100, peer: 0 } });
    expect(drive.written).toEqual([
      { self: 25, peer: 75 },
      { self: 50, peer: 50 },
      { self: 100, peer: 0 },
    ]);
    expect(drive.events).toEqual([
      'CutoverStarted',
      'WeightsChanging',
      'WeightsVerified',
      'StepCompleted',
      'StepCompleted',
      'WeightsChanging',
      'WeightsVerified',
      'StepCompleted',
      'WeightsChanging',
      'WeightsVerified',
      'StepCompleted',
      'CutoverSucceeded',
    ]);
    // Succeeded only 2 TTLs after weight 0 was verified for the peer.
    const verifiedAt = Date.parse(done.syncedAt as string);
    expect(Date.parse(done.finishedAt as string) - verifiedAt).toBeGreaterThanOrEqual(2 * TTL * 1000);
    expect(done.history.at(-1)).toMatchObject({ event: 'CutoverSucceeded', step: 4 });
  });

  it('never counts a step while Route53 has not verified it, however much time passes', () => {
    const drive = new Drive(planOf({ stepPercent: 50 }));
    drive.decide();
    for (let i = 0; i < 5; i++) {
      drive.pending = undefined; // Route53 keeps the change PENDING: nothing INSYNC
      drive.now = new Date(drive.now.getTime() + 3_600_000);
      const d = decide({
        plan: drive.plan,
        fingerprint: 'plan-1',
        status: drive.status,
        analysis: {},
        ttlSeconds: TTL,
        drainTtls: 2,
        now: drive.now,
      });
      expect(d.status).toMatchObject({ step: 0, share: 50 });
      expect(d.weights).toEqual({ self: 50, peer: 50 });
      drive.status = d.status;
    }
  });

  it('picks up at the same step from its status after a restart (never jumps ahead)', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 10 }, { pause: {} }, { setShare: 100 }] }));
    const paused = drive.run(5);
    expect(paused).toMatchObject({ phase: 'Paused', step: 1, share: 10 });
    // A new operator: same status from the API server, Route53 read afresh.
    const again = decide({
      plan: drive.plan,
      fingerprint: 'plan-1',
      status: structuredClone(paused),
      verified: { self: 10, peer: 90 },
      analysis: {},
      ttlSeconds: TTL,
      drainTtls: 2,
      now: new Date(drive.now.getTime() + 86_400_000),
    });
    expect(again.status).toMatchObject({ phase: 'Paused', step: 1, share: 10 });
    expect(again.weights).toEqual({ self: 10, peer: 90 });
  });

  it('a pause without a duration waits for promote; promote-full goes straight to the last share', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 10 }, { pause: {} }, { setShare: 50 }, { pause: {} }, { setShare: 100 }] }));
    expect(drive.run(5)).toMatchObject({ phase: 'Paused', step: 1 });
    drive.request = 'promote/1';
    drive.decide();
    expect(drive.status).toMatchObject({ step: 2, share: 50, handledRequest: 'promote/1' });
    expect(drive.run(5)).toMatchObject({ phase: 'Paused', step: 3 });
    drive.request = 'promote-full/2';
    expect(drive.run(10)).toMatchObject({ phase: 'Succeeded', share: 100 });
    expect(drive.written).toEqual([
      { self: 10, peer: 90 },
      { self: 50, peer: 50 },
      { self: 100, peer: 0 },
    ]);
    expect(drive.events).toEqual(expect.arrayContaining(['Promoted', 'PromotedFull']));
  });

  it('pause holds a step, resume goes on; each request is acted on once', () => {
    const drive = new Drive(planOf({ stepPercent: 50 }));
    drive.decide();
    drive.request = 'pause';
    expect(drive.run(10)).toMatchObject({ phase: 'Paused', held: true, step: 0, share: 50 });
    expect(drive.events.filter((e) => e === 'Paused')).toHaveLength(1);
    drive.request = 'resume';
    expect(drive.run(20)).toMatchObject({ phase: 'Succeeded', share: 100 });
  });

  it('refuses a request that makes no sense now, with an event, and goes on', () => {
    const drive = new Drive(planOf({ stepPercent: 50 }));
    drive.decide();
    drive.request = 'resume/x';
    drive.decide();
    expect(drive.events).toContain('RequestRefused');
    const refusals = () => drive.status?.history.filter((h) => h.event === 'RequestRefused').map((h) => h.message);
    expect(refusals()).toEqual([
      'resume/x: the cutover is not paused (Progressing, step 1/2, share 50%); resume only continues a paused cutover',
    ]);
    drive.request = 'bogus';
    drive.decide();
    expect(refusals()?.[1]).toBe('bogus: unknown verb "bogus"; the verbs are pause, resume, promote, promote-full, abort, retry');
    expect(drive.run(20)).toMatchObject({ phase: 'Succeeded' });
  });

  it('abort walks back through the plan’s own shares to the start, each verified and held one TTL', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 30 }, { setShare: 60 }, { pause: {} }, { setShare: 100 }] }), {
      self: 0,
      peer: 100,
    });
    expect(drive.run(12)).toMatchObject({ phase: 'Paused', step: 3, share: 60 });
    drive.request = 'abort';
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Aborted', aborting: true, share: 30 });
    const back = drive.run(20);
    expect(back).toMatchObject({ phase: 'Aborted', share: 0, weights: { self: 0, peer: 100 } });
    expect(back.aborting).toBeUndefined();
    expect(back.finishedAt).toBeDefined();
    expect(drive.written.slice(3)).toEqual([
      { self: 30, peer: 70 },
      { self: 10, peer: 90 },
      { self: 0, peer: 100 },
    ]);
    expect(verbError('promote', back)).toContain('retry starts it again');

    drive.request = 'retry';
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Progressing', step: 0, share: 10 });
    expect(drive.status?.finishedAt).toBeUndefined();
  });

  it('a failed analysis aborts; an inconclusive one pauses (Pause) and runs again on resume, or aborts (Abort)', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 20 }, { analysis: { template: 'slo' } }, { setShare: 100 }] }));
    drive.run(4);
    expect(drive.status).toMatchObject({ phase: 'Analyzing', step: 1 });
    expect(drive.last.measure).toEqual({ template: 'slo' });

    const at = drive.now.toISOString();
    drive.status = { ...(drive.status as CutoverStatus), lastAnalysis: analysisRun(1, 'Running', at) };
    drive.decide();
    expect(drive.last.measure).toBeUndefined();
    expect(drive.last.requeueAfterMs).toBe(30_000);

    drive.status = { ...(drive.status as CutoverStatus), lastAnalysis: analysisRun(1, 'Inconclusive', at) };
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Paused', held: true, step: 1 });
    drive.request = 'resume';
    drive.decide();
    expect(drive.last.measure).toEqual({ template: 'slo' });
    expect(drive.status?.lastAnalysis).toBeUndefined();

    drive.status = { ...(drive.status as CutoverStatus), lastAnalysis: analysisRun(1, 'Failed', drive.now.toISOString()) };
    drive.decide();
    expect(drive.status).toMatchObject({ phase: 'Aborted', aborting: true });
    expect(drive.run(10)).toMatchObject({ phase: 'Aborted', share: 0 });
    expect(drive.events).toEqual(expect.arrayContaining(['AnalysisInconclusive', 'AnalysisFailed', 'CutoverAborted', 'AbortCompleted']));

    const strict = new Drive(planOf({ steps: [{ setShare: 20 }, { analysis: { template: 'strict' } }, { setShare: 100 }] }));
    strict.run(4);
    strict.status = {
      ...(strict.status as CutoverStatus),
      lastAnalysis: { ...analysisRun(1, 'Inconclusive', strict.now.toISOString()), template: 'strict' },
    };
    strict.decide();
    expect(strict.status).toMatchObject({ phase: 'Aborted', aborting: true });
  });

  it('a changed plan starts again from the share Route53 serves, past the steps at or below it', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 25 }, { setShare: 50 }, { pause: {} }, { setShare: 100 }] }));
    expect(drive.run(8)).toMatchObject({ share: 50, phase: 'Paused' });
    const plan = planOf({ steps: [{ setShare: 10 }, { setShare: 50 }, { pause: {} }, { setShare: 100 }] });
    const d = decide({
      plan,
      fingerprint: 'plan-2',
      status: drive.status,
      verified: { self: 50, peer: 50 },
      analysis: {},
      ttlSeconds: TTL,
      drainTtls: 2,
      now: drive.now,
    });
    expect(d.status).toMatchObject({ plan: 'plan-2', startShare: 50, step: 2, phase: 'Paused' });
    expect(d.weights).toEqual({ self: 50, peer: 50 });
  });

  it('a new plan after an abort starts, and the abort request the old plan acted on is not acted on again', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 20 }, { pause: {} }, { setShare: 100 }] }));
    drive.run(6);
    drive.request = 'abort/1';
    expect(drive.run(12)).toMatchObject({ phase: 'Aborted', share: 0, handledRequest: 'abort/1' });
    expect(drive.status?.aborting).toBeFalsy();
    const next = new Drive(planOf({ steps: [{ setShare: 50 }, { setShare: 100 }] }), drive.served, 'plan-2');
    next.status = drive.status;
    next.request = 'abort/1'; // the annotation stays set
    next.now = drive.now;
    expect(next.run(1)).toMatchObject({ plan: 'plan-2', phase: 'Progressing', share: 50, handledRequest: 'abort/1' });
    expect(next.events).toEqual(['CutoverStarted', 'PlanChanged', 'WeightsChanging']);
  });
});

describe('a step settled by the observed share', () => {
  const settle: SettleSettings = { observed: true, tolerancePoints: 3, windowMs: 30_000, maxWaitMs: 120_000 };

  it('waits after the TTL until the share of requests this cluster receives is within the tolerance, then goes on', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 50 }, { setShare: 100 }] }));
    drive.settle = settle;
    // Long-lived connections lag the weights: 40 % observed at first, 48 % once the peer has closed its share of them.
    let lagging = true;
    drive.traffic = () => (lagging ? { self: 400, peer: 600 } : { self: 480, peer: 520 });
    drive.run(4);
    expect(drive.status).toMatchObject({
      step: 0,
      share: 50,
      observed: { configuredShare: 50, share: 40, requests: { self: 400, peer: 600 } },
    });
    expect(drive.status?.message).toContain('waiting for the traffic to follow: observed 40% for 50% configured');
    expect(drive.events).not.toContain('StepCompleted');
    lagging = false;
    drive.run(2);
    expect(drive.status).toMatchObject({ step: 1, share: 100, observed: { configuredShare: 50, share: 48, settled: 'Observed' } });
    expect(drive.events).toContain('StepCompleted');
    expect(drive.events).not.toContain('ObservedShareBehind');
  });

  it('goes on after settle.maxWait when the traffic never follows, with a Warning', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 50 }, { setShare: 100 }] }));
    drive.settle = settle;
    drive.traffic = () => ({ self: 300, peer: 700 });
    const started = drive.now.getTime();
    drive.run(60);
    expect(drive.status).toMatchObject({ share: 100, observed: { configuredShare: 100, share: 30 } });
    expect(drive.events.filter((e) => e === 'ObservedShareBehind')).toHaveLength(2);
    const behind = drive.status?.history.find((h) => h.event === 'ObservedShareBehind');
    expect(behind?.message).toMatch(
      /^step 1 of 2: 50% in sync, but observed 30%, outside ±3 points after 120s \(settle.maxWait\): going on$/,
    );
    // The bound counts from the TTL after INSYNC: the step took at least the TTL and maxWait.
    expect(Date.parse(behind?.at ?? '') - started).toBeGreaterThanOrEqual(TTL * 1000 + settle.maxWaitMs);
  });

  it('without a Prometheus, counts the step once in sync for a TTL, as before, and says so', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 50 }, { setShare: 100 }] }));
    drive.settle = { ...settle, observed: false };
    drive.run(4);
    expect(drive.status).toMatchObject({ step: 1, share: 100 });
    expect(drive.status?.observed?.message).toMatch(/^no settle \(spec.traffic.cutover.settle, with .prometheus\)/);
  });
});

describe('a cutover paced by the error budget', () => {
  // 99.9 % over 30 days at 10 requests/s: a budget of 25,920 failed requests; 1 % of it is 260.
  const settings: PacingSettings = {
    objective: 0.999,
    windowDays: 30,
    budgetFraction: 0.01,
    minDwellMs: 60_000,
    maxDwellMs: 30 * 60_000,
    fastBurn: 14.4,
    slowBurn: 6,
  };
  const calm = { fastShort: 0.2, fastLong: 0.3, slowShort: 0.4, slowLong: 0.4 };
  /** This cluster answers `share` % of 10 requests/s from the moment the step began (no earlier), burning `burn`. */
  const traffic =
    (burn = calm) =>
    (asked: { step: number; since: string }, now: Date, share = 10): PacingMeasurement => ({
      requests: Math.max(0, Math.floor(((now.getTime() - Date.parse(asked.since)) / 1000) * share * 0.1 * 10) / 10),
      totalRatePerSecond: 10,
      burn,
    });

  it('holds each step until this cluster has served its requests at that share, then goes on', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 100 }] }));
    drive.pacing = { settings, answer: traffic() };
    drive.run(2); // 10 % written, verified, and the clock a TTL on
    drive.decide();
    // One TTL after INSYNC the step's count begins: at 1 request/s, 260 requests take 260 s.
    const since = Date.parse(drive.status?.syncedAt as string) + TTL * 1000;
    expect(drive.asked.at(-1)).toEqual({ step: 0, since: new Date(since).toISOString().replace('.000', '') });
    expect(drive.status).toMatchObject({ phase: 'Progressing', step: 0, pacing: { step: 0, requests: 0, requestsNeeded: 260 } });
    expect(drive.status?.message).toBe('step 1: 0 of 260 requests at 10 %, burn 0.2×; minDwell 1m not over');
    expect(drive.last.requeueAfterMs).toBe(60_000);

    drive.now = new Date(since + 120_000);
    drive.decide();
    expect(drive.status?.message).toBe('step 1: 120 of 260 requests at 10 %, burn 0.2×');
    expect(drive.status?.pacing?.burnRates).toEqual(calm);
    // It looks again when the rest should be in: 140 requests at 1/s.
    expect(drive.last.requeueAfterMs).toBe(140_000);

    drive.now = new Date(since + 260_000);
    drive.decide();
    expect(drive.status).toMatchObject({ step: 1, share: 100 });
    expect(drive.status?.pacing).toBeUndefined();
    expect(drive.status?.history.find((h) => h.event === 'StepCompleted')?.message).toBe(
      'step 1 of 2: 10% verified, held for one TTL and paced (step 1: 260 of 260 requests at 10 %, burn 0.2×: enough requests, burn below 6×)',
    );
  });

  it('aborts on a fast burn and pauses on a slow one, with the burn in status and the history', () => {
    const fast = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 50 }] }));
    fast.pacing = { settings, answer: traffic({ fastShort: 20, fastLong: 15, slowShort: 9, slowLong: 7 }) };
    const aborted = fast.run(10);
    expect(aborted).toMatchObject({ phase: 'Aborted', share: 0, weights: { self: 0, peer: 100 } });
    expect(fast.events).toContain('FastBurn');
    expect(aborted.history.find((h) => h.event === 'FastBurn')?.message).toBe(
      'step 1: 0 of 260 requests at 10 %, burn 20×: fast burn, 20× over the short window and 15× over the long one (abort at 14.4× on both)',
    );
    expect(aborted.history.find((h) => h.event === 'CutoverAborted')?.message).toMatch(/^step 1 of 2: fast burn; returning traffic/);

    const slow = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 50 }] }));
    slow.pacing = { settings, answer: traffic({ fastShort: 8, fastLong: 7, slowShort: 7, slowLong: 6.5 }) };
    const paused = slow.run(10);
    expect(paused).toMatchObject({ phase: 'Paused', held: true, step: 0, share: 10 });
    expect(paused.message).toBe(
      'paused at step 1 of 2 (step 1: 0 of 260 requests at 10 %, burn 8×: slow burn, 7× over the short window and 6.5× over the long one (pause at 6× on both)): resume, promote or abort',
    );
    expect(slow.events.filter((e) => e === 'SlowBurn')).toHaveLength(1);
    // Resume measures again: calm now, so the step goes on once its requests are in.
    slow.pacing = { settings, answer: (asked, now) => traffic()(asked, now, 50) };
    slow.request = 'resume/1';
    slow.run(1);
    slow.request = undefined;
    expect(slow.status).toMatchObject({ phase: 'Progressing', step: 0 });
    expect(slow.run(20)).toMatchObject({ phase: 'Succeeded', share: 50 });
  });

  it('goes on after maxDwell without its requests (a warning), but never while the burn is not shown calm', () => {
    const quiet = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 50 }] }));
    quiet.pacing = { settings: { ...settings, maxDwellMs: 300_000 }, answer: (asked, now) => ({ ...traffic()(asked, now), requests: 5 }) };
    expect(quiet.run(20)).toMatchObject({ phase: 'Succeeded', share: 50 });
    expect(quiet.events.filter((e) => e === 'PacingShortOfRequests')).toHaveLength(2);

    const unknown = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 50 }] }));
    const nan = { fastShort: Number.NaN, fastLong: Number.NaN, slowShort: Number.NaN, slowLong: Number.NaN };
    unknown.pacing = {
      settings: { ...settings, maxDwellMs: 300_000 },
      answer: (asked, now) => ({ ...traffic(nan)(asked, now), requests: 0 }),
    };
    const held = unknown.run(20);
    expect(held).toMatchObject({ phase: 'Paused', held: true, step: 0, pacing: { burnRates: {} } });
    expect(held.message).toContain('maxDwell 5m over and the burn not shown below 6× on both slow windows');
  });

  it('holds the step while Prometheus cannot answer, asking again, and never counts a measurement of another step', () => {
    const drive = new Drive(planOf({ steps: [{ setShare: 10 }, { setShare: 50 }] }));
    drive.pacing = { settings, answer: () => new Error('Prometheus at http://prom:9090: timed out after 10 s') };
    const held = drive.run(30);
    expect(held).toMatchObject({ phase: 'Progressing', step: 0, share: 10 });
    expect(held.message).toBe(
      'step 1 of 2: pacing has no measurement (Prometheus at http://prom:9090: timed out after 10 s); asking again in 15s',
    );
    expect(drive.last.requeueAfterMs).toBe(15_000);

    // A measurement taken for another step (or another start) is not this step's: it asks again.
    const status = held;
    const input: CutoverInput = {
      plan: drive.plan,
      fingerprint: 'plan-1',
      status,
      verified: { self: 10, peer: 90 },
      analysis: {},
      ttlSeconds: TTL,
      drainTtls: 2,
      now: drive.now,
      pacing: {
        settings,
        measured: { step: 1, since: status.syncedAt as string, requests: 1e6, totalRatePerSecond: 10, burn: calm },
      },
    };
    expect(decide(input)).toMatchObject({ status: { step: 0 }, measurePacing: { step: 0 } });
  });
});

describe('an abort that lands on capacity (with prescale)', () => {
  const needed = { reservationApi: 4, queryApi: 12 };
  /** A cutover at 50 %, paused, then asked to abort. */
  const abortAt50 = (takeBack: Drive['takeBack']) => {
    const drive = new Drive(planOf({ steps: [{ setShare: 20 }, { setShare: 50 }, { pause: {} }, { setShare: 100 }] }));
    drive.takeBack = takeBack;
    expect(drive.run(10)).toMatchObject({ phase: 'Paused', share: 50 });
    drive.request = 'abort/1';
    drive.decide();
    return drive;
  };

  it('walks back in the same decision when the peer has the pods for the traffic it gets back', () => {
    const drive = abortAt50(() => ({ needed, ready: { reservationApi: 4, queryApi: 15 } }));
    expect(drive.takeBackAsked).toBe(1);
    expect(drive.last.weights).toEqual({ self: 20, peer: 80 });
    expect(drive.status?.takeBack).toMatchObject({
      state: 'Ready',
      message: 'eks-blue has the pods to take the traffic back (needs reservation-api 4, query-api 12)',
    });
    expect(drive.events).not.toContain('PeerPreScaling');
    // Checked once: the rest of the walk does not ask again.
    expect(drive.run(20)).toMatchObject({ phase: 'Aborted', share: 0 });
    expect(drive.takeBackAsked).toBe(1);
  });

  it('raises the peer’s floors and holds the first step down until its pods are ready', () => {
    let ready: ReadyPods = { reservationApi: 4, queryApi: 5 };
    const drive = abortAt50(() => ({ needed, ready }));
    expect(drive.last.weights).toEqual({ self: 50, peer: 50 });
    expect(drive.status).toMatchObject({
      phase: 'Aborted',
      aborting: true,
      takeBack: { state: 'Raising', floors: needed },
    });
    expect(drive.status?.history.at(-1)).toMatchObject({
      event: 'PeerPreScaling',
      message:
        'eks-blue cannot take the traffic back yet (query-api 5 ready of 12): its floors are raised to reservation-api 4, query-api 12, and the walk back waits for its pods',
    });
    expect(drive.status?.message).toMatch(
      /^aborting: waiting for eks-blue's pods to take the traffic back \(query-api 5 ready of 12\), at most until /,
    );
    expect(drive.last.requeueAfterMs).toBe(5000);
    drive.run(3);
    expect(drive.written.at(-1)).toEqual({ self: 50, peer: 50 });

    ready = { reservationApi: 4, queryApi: 12 };
    drive.decide();
    expect(drive.last.weights).toEqual({ self: 20, peer: 80 });
    expect(drive.events).toContain('TakeBackReady');
    // The floors stay asked for until the cutover ends: the peer keeps the pods it takes the traffic back on.
    expect(drive.run(20)).toMatchObject({ phase: 'Aborted', share: 0, takeBack: { state: 'Ready', floors: needed } });
  });

  it('walks back anyway once the wait is over, and at once when Prometheus cannot say', () => {
    const short = abortAt50(() => ({ needed, ready: { reservationApi: 1, queryApi: 2 } }));
    short.now = new Date(Date.parse(short.status?.takeBack?.since as string) + TAKE_BACK_WAIT_MS);
    short.decide();
    expect(short.last.weights).toEqual({ self: 20, peer: 80 });
    expect(short.status?.takeBack).toMatchObject({ state: 'Short', floors: needed });
    expect(short.status?.history.find((h) => h.event === 'TakeBackShort')?.message).toBe(
      'eks-blue still short after 3m (reservation-api 1 ready of 4, query-api 2 ready of 12): walking back anyway, its floors kept raised',
    );

    const unknown = abortAt50(() => new Error('Prometheus at http://prom:9090: timed out after 10 s'));
    expect(unknown.last.weights).toEqual({ self: 20, peer: 80 });
    expect(unknown.status?.takeBack).toMatchObject({ state: 'Unknown' });
    expect(unknown.status?.takeBack?.floors).toBeUndefined();
    expect(unknown.events).toContain('TakeBackUnknown');
  });
});

describe('draining the peer', () => {
  it('waits the TTLs, then until the peer’s own request rate is below the threshold, before Succeeded', () => {
    const drive = new Drive(planOf({ stepPercent: 100 }));
    drive.run(3); // 100 % written, verified, held one TTL
    const draining = { ...drive.status } as CutoverStatus;
    expect(draining.step).toBe(1);
    const at = (seconds: number, measured?: number | Error) =>
      decide({
        plan: drive.plan,
        fingerprint: 'plan-1',
        status: draining,
        verified: { self: 100, peer: 0 },
        analysis: {},
        ttlSeconds: TTL,
        drainTtls: 2,
        peerRate: { below: 1, ...(measured !== undefined ? { measured } : {}) },
        now: new Date(Date.parse(draining.syncedAt as string) + seconds * 1000),
      });
    // Within 2 TTLs: waiting, no measurement asked.
    expect(at(30)).toMatchObject({ status: { phase: 'Progressing' } });
    expect(at(30).measurePeerRate).toBeUndefined();
    // After them: asks for the rate, then judges it.
    expect(at(61).measurePeerRate).toBe(true);
    expect(at(61, 12.5).status.message).toBe('draining eks-blue: it still serves 12.5 requests/s; waiting until below 1/s');
    expect(at(61, 12.5).requeueAfterMs).toBe(15_000);
    expect(at(61, new Error('no data from up')).status.message).toContain('no rate (no data from up)');
    expect(at(61, 0.2).status).toMatchObject({ phase: 'Succeeded' });
  });
});

describe('plan arithmetic', () => {
  const plan = planOf({ steps: [{ setShare: 10 }, { pause: {} }, { setShare: 50 }, { analysis: { template: 'slo' } }, { setShare: 100 }] });
  it('firstStep skips the steps up to the last share at or below the current one', () => {
    expect(firstStep(plan, 0)).toBe(0);
    expect(firstStep(plan, 10)).toBe(1);
    expect(firstStep(plan, 30)).toBe(1);
    expect(firstStep(plan, 50)).toBe(3);
    expect(firstStep(plan, 100)).toBe(5);
  });
  it('abortShares walks down the plan’s shares to the start', () => {
    expect(abortShares(plan, 100, 0)).toEqual([50, 10, 0]);
    expect(abortShares(plan, 50, 0)).toEqual([10, 0]);
    expect(abortShares(plan, 30, 10)).toEqual([10]);
    expect(abortShares(plan, 10, 10)).toEqual([]);
  });
});
