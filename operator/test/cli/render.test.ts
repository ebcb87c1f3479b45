import { describe, expect, it } from '@jest/globals';
import { formatElapsed, renderStatus, verbEffect, wrap } from '../../src/cli/render.ts';
import { NOW, states, TRAFFIC } from './states.ts';

const plain = { now: NOW, width: 100, color: false };
const render = (state: keyof typeof states, options = plain) => renderStatus(states[state](), options);
/** The plan's lines, markers included. */
const planLines = (text: string) => text.split('\n').filter((l) => /^ {2}[✓▶✗ ] {1,2}\d\. /.test(l));

describe('renderStatus', () => {
  it('progressing mid-plan: the whole picture, as an SRE reads it', () => {
    expect(render('progressing')).toBe(
      `reservations/booking  Progressing
record        api.reservations.example.com, set identifier eks-green
cutover       from eks-blue, started 10:01:00Z (14m ago); step 3/6 for 2m
              waiting for Route53 to report weights 40/60 INSYNC

plan
  ✓  1. setShare 10%
  ✓  2. pause 5m
  ▶  3. setShare 40%   ← now
     4. analysis smoke
     5. pause until promoted
     6. setShare 100%

share         [████▒▒▒▒▒▒▒▒▒▒▒▒░░░░░░░░░░░░░░░░░░░░░░░░] 10% → 40%
weights       set identifier            desired  verified
              eks-green (this cluster)       40        10
              eks-blue (peer)                60        90

history
  10:01:00Z  step 1   StepStarted       setShare 10%
  10:02:00Z  step 1   WeightsVerified   eks-green 10, eks-blue 90 INSYNC
  10:03:00Z  step 2   StepStarted       pause 5m
  10:08:00Z  step 2   PauseEnded        paused 5m
  10:13:00Z  step 3   StepStarted       setShare 40%

verbs         kubectl reservation {pause|promote [--full]|abort} booking -n reservations
TrafficReady  False ChangePending: weight 40 submitted (change C0123), waiting for INSYNC
`,
    );
  });

  it('paused waiting for promote: the marker says so, and the last analysis with its thresholds', () => {
    const text = render('pausedForPromote');
    expect(text).toMatch(/^reservations\/booking {2}Paused\n/);
    expect(planLines(text)).toEqual([
      '  ✓  1. setShare 10%',
      '  ✓  2. pause 5m',
      '  ✓  3. setShare 40%',
      '  ✓  4. analysis smoke',
      '  ▶  5. pause until promoted   ← waiting for promote',
      '     6. setShare 100%',
    ]);
    expect(text).toContain('share         [████████████████░░░░░░░░░░░░░░░░░░░░░░░░] 40%\n');
    expect(text).toContain(
      'analysis      smoke (step 4): Successful, 3/3 measurements, 0 failed, 0 inconclusive\n' +
        '              success rate 99.87% (min 99%), p99 212 ms (max 500 ms), 1520 requests, measured 1m ago\n',
    );
    expect(text).toContain('kubectl reservation {resume|promote [--full]|abort} booking -n reservations');
  });

  it('analyzing: the current step shows the measurements so far', () => {
    const text = render('analyzing');
    expect(planLines(text)[3]).toBe('  ▶  4. analysis smoke   ← Running, 2/3 measurements');
    expect(text).toContain('smoke (step 4): Running, 2/3 measurements');
    expect(text).toContain('p99 230 ms (max 500 ms), 840 requests, measured 30s ago');
  });

  it('aborted while walking back: where it failed, the share going down, and no verb until it is back', () => {
    const text = render('abortingBack');
    expect(text).toMatch(/^reservations\/booking {2}Aborted\n/);
    expect(text).toContain('              aborting: walking the share back to 0%\n');
    expect(planLines(text)[3]).toBe('  ✗  4. analysis smoke   ← aborted here');
    expect(text).toContain('] 40% → 0%');
    expect(text).toMatch(/eks-green \(this cluster\) +0 +40\n +eks-blue \(peer\) +100 +60\n/);
    expect(text).toContain('smoke (step 4): Failed, 1/3 measurements, 1 failed');
    expect(text).toContain('verbs         none while the abort walks back to 0% (then retry)');
  });

  it('an abort waiting for the peer’s pods says so under the cutover', () => {
    const cr = states.abortingBack();
    const cutover = cr.status?.traffic?.cutover;
    if (cutover) {
      cutover.takeBack = {
        state: 'Raising',
        floors: { queryApi: 12 },
        since: '2026-11-25T10:14:30Z',
        message:
          'eks-blue cannot take the traffic back yet (query-api 5 ready of 12): its floors are raised to query-api 12, and the walk back waits for its pods',
      };
    }
    expect(renderStatus(cr, { ...plain, width: 200 })).toContain(
      '              take-back: eks-blue cannot take the traffic back yet (query-api 5 ready of 12): its floors are raised to query-api 12, and the walk back waits for its pods\n',
    );
  });

  it('succeeded: every step done, the full share, no verbs', () => {
    const text = render('succeeded');
    expect(planLines(text).every((l) => l.startsWith('  ✓'))).toBe(true);
    expect(text).toContain('finished 10:14:30Z (30s ago); all 6 steps');
    expect(text).toContain(`[${'█'.repeat(40)}] 100%\n`);
    expect(text).toContain('verbs         none (the cutover is over)');
  });

  it('degraded: the step that cannot go on, why, and abort or retry', () => {
    const text = render('degraded');
    expect(planLines(text)[2]).toBe('  ✗  3. setShare 40%   ← degraded here');
    expect(text).toContain('Route53 refused the change: AccessDenied');
    expect(text).toContain('kubectl reservation {abort|retry} booking -n reservations');
    expect(text).toContain('TrafficReady  False Route53Error: AccessDenied');
  });

  it("the peer's side: whose cutover writes its weight, and since when", () => {
    const text = render('peerHandover');
    expect(text).toContain('record        api.reservations.example.com, set identifier eks-blue\n');
    expect(text).toContain('weight        desired 100, verified 60');
    expect(text).toContain('cutover       none of its own (spec.traffic.cutover is not set)');
    expect(text).toContain("handover      weights written by reservation-operator-eks-green's cutover since 10:01:00Z (14m ago);");
    expect(text).toContain("it last set this cluster's weight to 60");
  });

  it("the observed share under the share bar, and a handover's rebalance", () => {
    // Wide enough that no line wraps.
    const wide = { ...plain, width: 200 };
    const paused = states.pausedForPromote();
    const cutover = paused.status?.traffic?.cutover as NonNullable<NonNullable<NonNullable<typeof paused.status>['traffic']>['cutover']>;
    cutover.observed = {
      configuredShare: 40,
      share: 36.4,
      requests: { self: 364, peer: 636 },
      windowSeconds: 30,
      at: '2026-11-25T10:14:50Z',
      settled: 'Bound',
      message: 'observed 36.4% for 40% configured (364 here, 636 at the peer over 30s)',
    };
    expect(renderStatus(paused, wide)).toContain(
      'observed      36.4% of requests for 40% configured, went on without it (settle.maxWait) (364 here, 636 at the peer over 30s, 10:14:50Z)\n',
    );
    cutover.observed = {
      configuredShare: 40,
      message: 'no settle (spec.traffic.cutover.settle, with .prometheus): 40% counts once in sync for a TTL, not by observed traffic',
    };
    expect(renderStatus(paused, wide)).toContain('observed      no settle (spec.traffic.cutover.settle, with .prometheus)');
    const peer = states.peerHandover();
    const handover = peer.status?.traffic?.handover as NonNullable<NonNullable<NonNullable<typeof peer.status>['traffic']>['handover']>;
    handover.rebalance = { fromShare: 90, toShare: 60, fraction: 0.8333, since: '2026-11-25T10:14:00Z' };
    expect(renderStatus(peer, wide)).toContain(
      'rebalance     90% → 60% at 10:14:00Z: the services close 83.3% of their older keep-alive connections over one TTL, so those clients resolve again\n',
    );
  });

  it('no cutover: the record, its weight and "no cutover"', () => {
    expect(render('noCutover')).toBe(
      `reservations/booking  Idle
record        api.reservations.example.com, set identifier eks-green
weight        desired 10, verified 10 (INSYNC since 10:07:00Z)
cutover       no cutover (spec.traffic.cutover is not set)
TrafficReady  True RecordInSync: api.reservations.example.com (eks-green) weight 10 is INSYNC
`,
    );
  });

  it('a planned cutover the operator has not started: every step to come', () => {
    const cr = states.noCutover();
    cr.spec.traffic = { ...TRAFFIC, cutover: { from: 'eks-blue', stepPercent: 30 } } as typeof cr.spec.traffic;
    const text = renderStatus(cr, plain);
    expect(text).toContain('cutover       planned from eks-blue; the operator has not started it yet');
    expect(planLines(text)).toEqual(['     1. setShare 30%', '     2. setShare 60%', '     3. setShare 90%', '     4. setShare 100%']);
  });

  it('a plan changed under a running cutover, and a plan that cannot run, are said plainly', () => {
    const changed = states.progressing();
    if (changed.spec.traffic)
      changed.spec.traffic.cutover = { from: 'eks-blue', stepPercent: 50, drain: { ttls: 2, connectionClose: false } };
    expect(renderStatus(changed, plain)).toContain("the spec's plan has 2 steps, the running one 6: the plan changed");
    const broken = states.progressing();
    if (broken.spec.traffic)
      broken.spec.traffic.cutover = { from: 'eks-blue', steps: [{ pause: {} }], drain: { ttls: 2, connectionClose: false } };
    expect(renderStatus(broken, plain)).toContain(
      'plan          spec.traffic.cutover cannot run: the plan has no setShare step, so it would never move\n              any traffic\n',
    );
  });

  it('a timed pause counts down on the current step', () => {
    const cr = states.progressing();
    const cutover = cr.status?.traffic?.cutover;
    if (cutover) Object.assign(cutover, { step: 1, stepStartedAt: '2026-11-25T10:13:00Z' });
    expect(planLines(renderStatus(cr, plain))[1]).toBe('  ▶  2. pause 5m   ← 2m of 5m');
  });

  it('a paced step shows its requests on the plan, and the four burn rates with when they were measured', () => {
    const cr = states.progressing();
    const cutover = cr.status?.traffic?.cutover;
    if (cutover) {
      Object.assign(cutover, {
        verifiedWeights: { self: 40, peer: 60 },
        message: 'step 3: 1,840 of 2,000 requests at 40 %, burn 0.4×',
        pacing: {
          step: 2,
          requests: 1840,
          requestsNeeded: 2000,
          burnRates: { fastShort: 0.4, fastLong: 0.35, slowShort: 0.3 },
          measuredAt: '2026-11-25T10:14:30Z',
        },
      });
    }
    const text = renderStatus(cr, { ...plain, width: 140 });
    expect(planLines(text)[2]).toBe('  ▶  3. setShare 40%   ← paced: 1,840 of 2,000 requests');
    expect(text).toContain(
      'pacing        step 3: 1,840 of 2,000 requests; burn 0.4× 5m, 0.35× 1h, 0.3× 30m, – 6h (measured 10:14:30Z, 30s ago)\n',
    );
    // A measurement of an earlier step is not this one's.
    if (cutover?.pacing) cutover.pacing.step = 0;
    expect(renderStatus(cr, plain)).not.toContain('pacing ');
  });

  it('a Reservation without spec.traffic has nothing to cut over', () => {
    const cr = states.noCutover();
    delete cr.spec.traffic;
    delete cr.status;
    expect(renderStatus(cr, plain)).toBe(
      'reservations/booking  Idle\nno spec.traffic: this Reservation has no weighted record, so no cutover\n',
    );
  });

  it('colours only when asked, and the text under the colours is the same', () => {
    const coloured = render('abortingBack', { ...plain, color: true });
    expect(coloured).toContain('\x1b[');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(render('abortingBack'));
    expect(render('abortingBack')).not.toContain('\x1b[');
  });

  it('wraps long messages to the width, under their label', () => {
    const text = render('degraded', { ...plain, width: 60 });
    expect(text).toContain('cutover       from eks-blue, started 10:01:00Z (14m ago);\n              step 3/6 for 2m\n');
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThanOrEqual(60);
  });
});

describe('verbEffect', () => {
  it('says what the operator will do, in steps and shares', () => {
    expect(verbEffect('pause', states.progressing())).toBe(
      'hold the cutover at step 3/6 (setShare 40%), share 40%, until resume or promote',
    );
    expect(verbEffect('promote', states.pausedForPromote())).toBe(
      'end step 5/6 (pause until promoted) now and go on with step 6/6 (setShare 100%)',
    );
    expect(verbEffect('promote-full', states.analyzing())).toBe(
      'skip the remaining steps (analyses and pauses included) and set the share to 100%',
    );
    expect(verbEffect('abort', states.progressing())).toBe('walk the share back from 40% to 0%, where the cutover started');
    expect(verbEffect('retry', states.degraded())).toBe('try step 3/6 (setShare 40%) again');
    expect(verbEffect('resume', states.pausedForPromote())).toBe('go on with step 5/6 (pause until promoted)');
  });
});

describe('helpers', () => {
  it('formats durations as the plan writes them', () => {
    expect([40_000, 132_000, 300_000, 5_400_000, 3_600_000].map(formatElapsed)).toEqual(['40s', '2m12s', '5m', '1h30m', '1h']);
  });

  it('wraps words, and gives a word longer than the width a line of its own', () => {
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wrap('a route53:ChangeResourceRecordSets b', 10)).toEqual(['a', 'route53:ChangeResourceRecordSets', 'b']);
  });
});
