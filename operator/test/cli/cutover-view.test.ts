import { describe, expect, it } from '@jest/globals';
import type { CutoverStatus } from '../../src/api/v1alpha1/reservation.ts';
import { cutoverView } from '../../src/cli/cutover-view.ts';
import { NOW, states, TRAFFIC } from './states.ts';

const view = (state: keyof typeof states) => cutoverView(states[state](), undefined, NOW);
const stepStates = (v: ReturnType<typeof cutoverView>) => v.plan?.steps.map((s) => s.state);

describe('cutoverView', () => {
  it('progressing mid-plan: the plan with each step, the share and weights, the history and the verbs', () => {
    const v = view('progressing');
    expect(v).toMatchObject({
      generatedAt: '2026-11-25T10:15:00Z',
      namespace: 'reservations',
      name: 'booking',
      phase: 'Progressing',
      record: { name: 'api.reservations.example.com', setIdentifier: 'eks-green', ttlSeconds: 30, desiredWeight: 40, verifiedWeight: 10 },
      allowedVerbs: ['pause', 'promote', 'promote-full', 'abort'],
      trafficReady: { status: 'False', reason: 'ChangePending' },
    });
    expect(v.plan?.steps).toEqual([
      { number: 1, kind: 'setShare', description: 'setShare 10%', state: 'done', sharePercent: 10, weights: { self: 10, peer: 90 } },
      { number: 2, kind: 'pause', description: 'pause 5m', state: 'done', durationSeconds: 300 },
      { number: 3, kind: 'setShare', description: 'setShare 40%', state: 'current', sharePercent: 40, weights: { self: 40, peer: 60 } },
      { number: 4, kind: 'analysis', description: 'analysis smoke', state: 'pending', template: 'smoke', measurementsPlanned: 3 },
      { number: 5, kind: 'pause', description: 'pause until promoted', state: 'pending' },
      { number: 6, kind: 'setShare', description: 'setShare 100%', state: 'pending', sharePercent: 100, weights: { self: 100, peer: 0 } },
    ]);
    expect(v.cutover).toMatchObject({
      phase: 'Progressing',
      from: 'eks-blue',
      message: 'waiting for Route53 to report weights 40/60 INSYNC',
      startedAt: '2026-11-25T10:01:00Z',
      ageSeconds: 840,
      stepCount: 6,
      stepsDone: 2,
      currentStep: { number: 3, startedAt: '2026-11-25T10:13:00Z', elapsedSeconds: 120 },
      aborting: false,
      held: false,
      share: { startPercent: 0, desiredPercent: 40, verifiedPercent: 10 },
      weights: {
        self: { setIdentifier: 'eks-green', desiredWeight: 40, verifiedWeight: 10 },
        peer: { setIdentifier: 'eks-blue', desiredWeight: 60, verifiedWeight: 90 },
      },
    });
    expect(v.cutover?.history.at(-1)).toEqual({ at: '2026-11-25T10:13:00Z', stepNumber: 3, event: 'StepStarted', message: 'setShare 40%' });
    expect(v.cutover?.history).toHaveLength(5);
    expect(v.cutover?.pauseReason).toBeUndefined();
    expect(v.cutover?.lastAnalysis).toBeUndefined();
  });

  it('paused for promote: why it waits, the last analysis with its verdict and thresholds', () => {
    const v = view('pausedForPromote');
    expect(stepStates(v)).toEqual(['done', 'done', 'done', 'done', 'current', 'pending']);
    expect(v.cutover).toMatchObject({
      phase: 'Paused',
      pauseReason: 'waiting for promote: kubectl reservation promote booking',
      share: { desiredPercent: 40, verifiedPercent: 40 },
      lastAnalysis: {
        template: 'smoke',
        stepNumber: 4,
        result: 'Successful',
        measurements: 3,
        measurementsPlanned: 3,
        successRate: 0.9987,
        successRateMin: 0.99,
        latencyP99Ms: 212.4,
        latencyP99MaxMs: 500,
        requests: 1520,
        measuredAt: '2026-11-25T10:14:00Z',
        measuredAgoSeconds: 60,
      },
    });
    expect(v.allowedVerbs).toEqual(['resume', 'promote', 'promote-full', 'abort']);
  });

  it('paused on request: the reason is the Paused event of the current step, not the status message', () => {
    const cr = states.progressing();
    const cutover = cr.status?.traffic?.cutover;
    if (!cutover) throw new Error('no cutover');
    Object.assign(cutover, { phase: 'Paused', held: true, message: 'paused at step 3 of 6: resume, promote or abort' });
    cutover.history.push({ at: '2026-11-25T10:14:00Z', step: 2, event: 'Paused', message: 'paused at step 3 of 6 (40%) on request' });
    expect(cutoverView(cr, undefined, NOW).cutover).toMatchObject({
      held: true,
      pauseReason: 'paused at step 3 of 6 (40%) on request',
    });
  });

  it('analyzing: the running analysis, measurements so far out of the planned', () => {
    const v = view('analyzing');
    expect(v.plan?.steps[3]).toMatchObject({ state: 'current', kind: 'analysis', measurementsPlanned: 3 });
    expect(v.cutover?.lastAnalysis).toMatchObject({ result: 'Running', measurements: 2, measuredAgoSeconds: 30 });
    expect(v.cutover?.currentStep?.number).toBe(4);
  });

  it('analyzing against the peer: both clusters over the same window, as the status has them', () => {
    const cr = states.analyzing();
    const run = cr.status?.traffic?.cutover?.lastAnalysis;
    if (!run) throw new Error('no analysis');
    const comparison = {
      self: { cluster: 'green', requests: 3010, errors: 33, latencyMs: 95, latencyLowMs: 93, latencyHighMs: 97 },
      peer: { cluster: 'blue', requests: 3002, errors: 3, latencyMs: 94, latencyLowMs: 92 },
      windowSeconds: 60,
      errorRateDifferenceLow: 0.0031,
      errorRateDifferenceHigh: 0.0169,
    };
    run.comparison = comparison;
    expect(cutoverView(cr, undefined, NOW).cutover?.lastAnalysis?.comparison).toEqual(comparison);
  });

  it('aborting back: the failed step, the share going down, the reason, and no verbs', () => {
    const v = view('abortingBack');
    expect(stepStates(v)).toEqual(['done', 'done', 'done', 'failed', 'pending', 'pending']);
    expect(v.cutover).toMatchObject({
      phase: 'Aborted',
      aborting: true,
      abortReason: 'analysis smoke failed: p99 812 ms > 500 ms; walking back to 0%',
      share: { startPercent: 0, desiredPercent: 0, verifiedPercent: 40 },
      weights: { self: { desiredWeight: 0, verifiedWeight: 40 }, peer: { desiredWeight: 100, verifiedWeight: 60 } },
      lastAnalysis: { result: 'Failed', failures: 1 },
    });
    expect(v.allowedVerbs).toEqual([]);
  });

  it("aborted: the reason is the CutoverAborted event's when the history has it", () => {
    const cr = states.abortingBack();
    cr.status?.traffic?.cutover?.history.push({
      at: '2026-11-25T10:14:40Z',
      step: 3,
      event: 'CutoverAborted',
      message: 'analysis smoke failed; returning traffic to eks-blue step by step, back to 0%',
    });
    expect(cutoverView(cr, undefined, NOW).cutover?.abortReason).toBe(
      'analysis smoke failed; returning traffic to eks-blue step by step, back to 0%',
    );
  });

  it('succeeded: every step done, no current step, when it finished, no verbs', () => {
    const v = view('succeeded');
    expect(stepStates(v)?.every((s) => s === 'done')).toBe(true);
    expect(v.cutover).toMatchObject({ phase: 'Succeeded', stepsDone: 6, stepCount: 6, finishedAgoSeconds: 30 });
    expect(v.cutover?.currentStep).toBeUndefined();
    expect(v.cutover?.share.verifiedPercent).toBe(100);
    expect(v.allowedVerbs).toEqual([]);
    expect(v.trafficReady).toMatchObject({ status: 'True', reason: 'RecordInSync' });
  });

  it('degraded: the step that cannot go on and abort or retry', () => {
    const v = view('degraded');
    expect(v.plan?.steps[2]?.state).toBe('failed');
    expect(v.cutover?.message).toMatch(/^Route53 refused the change: AccessDenied/);
    expect(v.allowedVerbs).toEqual(['abort', 'retry']);
    expect(v.trafficReady).toMatchObject({ status: 'False', reason: 'Route53Error' });
  });

  it("the peer's side of a handover: whose cutover writes the weight, since when, and no cutover of its own", () => {
    const v = view('peerHandover');
    expect(v.record).toMatchObject({ setIdentifier: 'eks-blue', desiredWeight: 100, verifiedWeight: 60 });
    expect(v.handover).toEqual({
      by: 'reservation-operator-eks-green',
      since: '2026-11-25T10:01:00Z',
      ageSeconds: 840,
      weight: 60,
      connectionClose: false,
    });
    expect(v.plan).toBeUndefined();
    expect(v.cutover).toBeUndefined();
  });

  it('the observed share beside the configured one, and on the peer the rebalance of its connections', () => {
    const paused = states.pausedForPromote();
    const observed = {
      configuredShare: 40,
      share: 38.2,
      requests: { self: 382, peer: 618 },
      windowSeconds: 30,
      at: '2026-11-25T10:14:50Z',
      settled: 'Observed' as const,
      message: 'observed 38.2% for 40% configured (382 here, 618 at the peer over 30s)',
    };
    (paused.status?.traffic?.cutover as CutoverStatus).observed = observed;
    expect(cutoverView(paused, undefined, NOW).cutover?.observed).toEqual({
      configuredPercent: 40,
      observedPercent: 38.2,
      requests: { self: 382, peer: 618 },
      windowSeconds: 30,
      measuredAt: '2026-11-25T10:14:50Z',
      measuredAgoSeconds: 10,
      settled: 'Observed',
      message: observed.message,
    });
    const peer = states.peerHandover();
    const handover = peer.status?.traffic?.handover as NonNullable<NonNullable<NonNullable<typeof peer.status>['traffic']>['handover']>;
    handover.rebalance = { fromShare: 90, toShare: 60, fraction: 0.8333, since: '2026-11-25T10:14:00Z' };
    expect(cutoverView(peer, undefined, NOW).handover?.rebalance).toEqual({
      fromPercent: 90,
      toPercent: 60,
      fraction: 0.8333,
      since: '2026-11-25T10:14:00Z',
    });
  });

  it('no cutover: the record and its weight only', () => {
    const v = view('noCutover');
    expect(v).toEqual({
      generatedAt: '2026-11-25T10:15:00Z',
      namespace: 'reservations',
      name: 'booking',
      phase: 'Idle',
      record: {
        name: 'api.reservations.example.com',
        setIdentifier: 'eks-green',
        ttlSeconds: 30,
        desiredWeight: 10,
        verifiedWeight: 10,
        verifiedAt: '2026-11-25T10:07:00Z',
      },
      trafficReady: {
        status: 'True',
        reason: 'RecordInSync',
        message: 'api.reservations.example.com (eks-green) weight 10 is INSYNC',
        lastTransitionTime: '2026-11-25T10:14:00Z',
      },
      allowedVerbs: [],
      capacity: [],
      drain: { drainingPeer: false, connectionClose: false },
    });
  });

  it("with the peer's Reservation: its phase and verified weight", () => {
    const v = cutoverView(states.progressing(), states.peerHandover(), NOW);
    expect(v.peer).toEqual({
      namespace: 'reservations',
      name: 'booking',
      setIdentifier: 'eks-blue',
      phase: 'Idle',
      desiredWeight: 100,
      verifiedWeight: 60,
      verifiedAt: '2026-11-25T10:14:00Z',
    });
    expect(view('progressing').peer).toBeUndefined();
  });

  it('a planned cutover not started yet: every step pending; a plan that cannot run: its errors', () => {
    const planned = states.noCutover();
    planned.spec.traffic = { ...TRAFFIC, cutover: { from: 'eks-blue', stepPercent: 50, drain: { ttls: 2, connectionClose: false } } };
    expect(cutoverView(planned, undefined, NOW).plan).toMatchObject({
      from: 'eks-blue',
      errors: [],
      steps: [
        { number: 1, state: 'pending', sharePercent: 50 },
        { number: 2, state: 'pending', sharePercent: 100 },
      ],
    });
    const broken = states.noCutover();
    broken.spec.traffic = { ...TRAFFIC, cutover: { from: 'eks-blue', steps: [{ pause: {} }], drain: { ttls: 2, connectionClose: false } } };
    expect(cutoverView(broken, undefined, NOW).plan).toEqual({
      from: 'eks-blue',
      errors: ['the plan has no setShare step, so it would never move any traffic'],
      steps: [],
    });
  });

  it('without spec.traffic: no record, plan or cutover', () => {
    const cr = states.noCutover();
    delete cr.spec.traffic;
    delete cr.status;
    expect(cutoverView(cr, undefined, NOW)).toEqual({
      generatedAt: '2026-11-25T10:15:00Z',
      namespace: 'reservations',
      name: 'booking',
      phase: 'Idle',
      allowedVerbs: [],
      capacity: [],
      drain: { drainingPeer: false, connectionClose: false },
    });
  });

  it("capacity: each service's floor against its ready pods, for the services the status names", () => {
    const cr = states.progressing();
    cr.status = {
      ...cr.status,
      services: {
        reservationApi: { desired: 4, ready: 3, available: 3, updated: 4 },
        queryApi: { desired: 2, ready: 2, available: 2, updated: 2 },
      },
      traffic: {
        ...(cr.status?.traffic as NonNullable<NonNullable<typeof cr.status>['traffic']>),
        minReplicas: { reservationApi: 4, notifier: 2 },
      },
    };
    expect(cutoverView(cr, undefined, NOW).capacity).toEqual([
      { service: 'reservationApi', floor: 4, ready: 3, desired: 4 },
      { service: 'queryApi', floor: undefined, ready: 2, desired: 2 },
      { service: 'notifier', floor: 2, ready: undefined, desired: undefined },
    ]);
  });

  it('drain: past the last step the cutover drains its peer; a handover with Connection: close drains this cluster', () => {
    const cr = states.progressing();
    const cutover = cr.status?.traffic?.cutover;
    if (!cutover) throw new Error('the state has a cutover');
    Object.assign(cutover, { step: cutover.steps, message: 'draining eks-blue: weight 0 in sync; waiting 2 TTLs for stale resolvers' });
    expect(cutoverView(cr, undefined, NOW).drain).toEqual({
      drainingPeer: true,
      connectionClose: false,
      message: 'draining eks-blue: weight 0 in sync; waiting 2 TTLs for stale resolvers',
    });
    const peer = states.peerHandover();
    const handover = peer.status?.traffic?.handover;
    if (!handover) throw new Error('the state has a handover');
    handover.connectionClose = true;
    expect(cutoverView(peer, undefined, NOW).drain).toEqual({ drainingPeer: false, connectionClose: true });
    expect(view('succeeded').drain.drainingPeer).toBe(false);
  });

  it.each(Object.keys(states) as (keyof typeof states)[])('%s is plain JSON: it reads back the same', (state) => {
    const v = view(state);
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});
