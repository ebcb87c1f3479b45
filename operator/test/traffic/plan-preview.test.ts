import { describe, expect, it } from '@jest/globals';
import { Value } from 'typebox/value';
import { Traffic } from '../../src/api/v1alpha1/traffic.ts';
import type { Cutover } from '../../src/traffic/plan.ts';
import { type FindingCode, insyncSeenSeconds, type PreviewFacts, previewPlan, seesBothClusters } from '../../src/traffic/plan-preview.ts';
import { prescaleFloors } from '../../src/traffic/prescale.ts';
import { sampleSpec } from '../support/fixtures.ts';

const services = sampleSpec().services;
const PROM = 'http://prometheus.monitoring:9090';

/** spec.traffic.cutover as the API server returns it (the CRD's defaults filled in). */
function cutover(plan: Record<string, unknown>): Cutover {
  const traffic = Value.Default(Traffic, {
    cluster: 'eks-green',
    dns: { hostedZoneId: 'Z1', name: 'api.example.com' },
    cutover: { from: 'eks-blue', ...plan },
  }) as { cutover: Cutover };
  return traffic.cutover;
}

const facts = (extra: Partial<PreviewFacts> = {}): PreviewFacts => ({
  self: 'eks-green',
  ttlSeconds: 5,
  startShare: 0,
  route53SyncSeconds: 0,
  podStartSeconds: 30,
  services,
  ...extra,
});

const prescale = { prometheus: { url: PROM }, requestsPerPod: { reservationApi: 20, queryApi: 50 } };
const peerTemplate = { name: 'peer', prometheus: { url: PROM }, peer: { errorRate: {} }, count: 10, interval: '30s' };
const sloTemplate = { name: 'slo', prometheus: { url: PROM }, minRequests: 100 };
const codes = (plan: Record<string, unknown>, extra?: Partial<PreviewFacts>): FindingCode[] =>
  previewPlan(cutover(plan), facts(extra)).findings.map((f) => f.code);

describe('the plan preview: its timing', () => {
  it('predicts the default simulation plan: each setShare 1 s to INSYNC + one TTL, the pauses, then the drain', () => {
    const steps = [10, 25, 50, 75, 100].flatMap((share, i) =>
      i < 4 ? [{ setShare: share }, { pause: { duration: '30s' } }] : [{ setShare: share }],
    );
    const preview = previewPlan(cutover({ steps, drain: { ttls: 2 } }), facts());
    // 5 × (1 s + 5 s) + 4 × 30 s, then the drain: 2 TTLs from the last INSYNC, of which the step held one.
    expect(preview.steps.map((s) => [s.startSeconds, s.dwellSeconds])).toEqual([
      [0, 6],
      [6, 30],
      [36, 6],
      [42, 30],
      [72, 6],
      [78, 30],
      [108, 6],
      [114, 30],
      [144, 6],
    ]);
    expect(preview.drain).toMatchObject({ startSeconds: 150, dwellSeconds: 5, endSeconds: 155 });
    expect(preview.etaSeconds).toBe(155);
    expect(preview.etaIsLowerBound).toBe(false);
  });

  it('with settle, gives each step that moves the share one settle window more for its observed share', () => {
    const settle = { window: '10s', maxWait: '2m' };
    const prometheus = { url: PROM };
    const preview = previewPlan(
      cutover({ steps: [{ setShare: 50 }, { pause: { duration: '30s' } }, { setShare: 100 }], prometheus, settle }),
      facts(),
    );
    // 1 s to INSYNC + 5 s TTL + 10 s for the observed share; the drain's 2 TTLs from INSYNC have passed by then.
    expect(preview.steps.map((s) => [s.startSeconds, s.dwellSeconds])).toEqual([
      [0, 16],
      [16, 30],
      [46, 16],
    ]);
    expect(preview.steps[0]?.dwellNote).toBe(
      '1s until INSYNC is seen + one TTL (5s) held + about 10s for the observed share (one settle window; the clients decide)',
    );
    expect(preview.etaSeconds).toBe(62);
    // Never more than maxWait; nothing without a Prometheus to observe with.
    const bounded = previewPlan(cutover({ steps: [{ setShare: 100 }], prometheus, settle: { ...settle, maxWait: '3s' } }), facts());
    expect(bounded.steps[0]?.dwellSeconds).toBe(1 + 5 + 3);
    expect(previewPlan(cutover({ steps: [{ setShare: 100 }], settle: { tolerancePoints: 3 } }), facts()).steps[0]?.dwellSeconds).toBe(6);
  });

  it('waits for Route53 as the executor polls it: a second after the write, then every 5 s', () => {
    expect([0, 1, 2, 6, 7, 60].map(insyncSeenSeconds)).toEqual([1, 1, 6, 6, 11, 61]);
    const preview = previewPlan(cutover({ steps: [{ setShare: 100 }] }), facts({ route53SyncSeconds: 60 }));
    expect(preview.steps[0]).toMatchObject({ dwellSeconds: 66, route53Calls: 3 + 12 });
    expect(preview.etaSeconds).toBe(61 + 2 * 5);
  });

  it('starts where Route53 is: steps at or below the current share are skipped and take no time', () => {
    const preview = previewPlan(cutover({ stepPercent: 25 }), facts({ startShare: 50 }));
    expect(preview.steps.map((s) => [s.description, s.skipped])).toEqual([
      ['setShare 25%', true],
      ['setShare 50%', true],
      ['setShare 75%', false],
      ['setShare 100%', false],
    ]);
    expect(preview.steps[2]?.startSeconds).toBe(0);
    expect(preview.etaSeconds).toBe(6 + 1 + 10);
  });

  it('counts a pause until promoted as 0 and says the ETA is a lower bound', () => {
    const preview = previewPlan(cutover({ steps: [{ setShare: 10 }, { pause: {} }, { setShare: 100 }], drain: { ttls: 2 } }), facts());
    expect(preview.steps[1]).toMatchObject({ dwellKnown: false, dwellSeconds: 0 });
    expect(preview.etaIsLowerBound).toBe(true);
    expect(preview.findings.find((f) => f.code === 'manual-pause')?.step).toBe(2);
  });

  it('ends at the last share without a drain when the plan stops short of 100 %', () => {
    const preview = previewPlan(cutover({ stepPercent: 20, maxPercent: 40 }), facts());
    expect(preview.drain.dwellSeconds).toBe(0);
    expect(preview.drain.note).toMatch(/ends at 40%/);
    expect(preview.etaSeconds).toBe(12);
  });

  it('waits for pre-scaled pods before a share rises past the pods ready, with the floors the operator sets', () => {
    const rates = { reservationApi: 100, queryApi: 400 };
    const plan = cutover({ steps: [{ setShare: 10 }, { setShare: 100 }], prescale });
    const preview = previewPlan(plan, facts({ rates, ready: { reservationApi: 2, queryApi: 2 } }));
    // One implementation: the operator's own prescaleFloors.
    expect(preview.steps[1]?.prescale).toEqual({
      reservationApi: { floor: prescaleFloors(services, plan.prescale as never, rates, 100).reservationApi, ready: 2 },
      queryApi: { floor: prescaleFloors(services, plan.prescale as never, rates, 100).queryApi, ready: 2 },
    });
    expect(preview.steps[0]?.dwellSeconds).toBe(6);
    expect(preview.steps[1]?.dwellSeconds).toBe(30 + 6);
  });

  it('dwells paced steps for their requests at the rates read now, within minDwell and maxDwell, and says when maxDwell comes first', () => {
    // 99.9 % over 30 days at 100 requests/s: a budget of 259,200 failed requests; 0.1 % of it is 260.
    const pacing = { objective: 0.999, budgetFraction: 0.001, minDwell: '30s', maxDwell: '1m' };
    const prometheus = { url: PROM };
    const rates = { reservationApi: 20, queryApi: 80 };
    const preview = previewPlan(
      cutover({ steps: [{ setShare: 1 }, { setShare: 10 }, { setShare: 100 }], prometheus, pacing }),
      facts({ rates }),
    );
    // 1 %: 1 request/s, 260 s > maxDwell; 10 %: 26 s < minDwell; 100 %: 2.6 s < minDwell. Each after 1 s to INSYNC + a 5 s TTL.
    expect(preview.steps.map((s) => s.dwellSeconds)).toEqual([66, 36, 36]);
    expect(preview.steps.map((s) => s.dwellNote)).toEqual([
      '1s until INSYNC is seen + one TTL (5s) held + paced 1m: maxDwell before its 260 requests are in',
      '1s until INSYNC is seen + one TTL (5s) held + paced 30s: minDwell (its 260 requests take less)',
      '1s until INSYNC is seen + one TTL (5s) held + paced 30s: minDwell (its 260 requests take less)',
    ]);
    expect(preview.findings.filter((f) => f.code === 'pacing-short-of-requests')).toEqual([
      {
        code: 'pacing-short-of-requests',
        severity: 'warning',
        step: 1,
        message:
          'at 1% this cluster would not serve the requests pacing asks for before maxDwell (1m) at the rates read now: the step will go on short of them, with a warning',
      },
    ]);
    const between = previewPlan(
      cutover({ steps: [{ setShare: 5 }], prometheus, pacing: { ...pacing, maxDwell: '10m' } }),
      facts({ rates }),
    );
    expect(between.steps[0]?.dwellNote).toBe('1s until INSYNC is seen + one TTL (5s) held + paced 52s: 260 requests at 5/s');
    const unknown = previewPlan(cutover({ steps: [{ setShare: 5 }], prometheus, pacing }), facts());
    expect(unknown.steps[0]?.dwellNote).toBe('1s until INSYNC is seen + one TTL (5s) held + paced: no request rates, up to maxDwell 1m');
    const refused = previewPlan(cutover({ stepPercent: 50, prometheus, pacing: { ...pacing, maxDwell: '1d' } }), facts({ rates }));
    expect(refused.errors).toEqual(['pacing.maxDwell must be like 30s, 5m or 1h30m, not "1d"']);
    expect(previewPlan(cutover({ stepPercent: 50, pacing }), facts({ rates })).errors).toEqual([
      'pacing needs traffic.cutover.prometheus, where it counts requests and 5xx answers',
    ]);
  });

  it('gives the plan’s errors instead of steps for a plan the operator would refuse', () => {
    const preview = previewPlan(cutover({ steps: [{ pause: { duration: '30s' } }] }), facts());
    expect(preview.steps).toEqual([]);
    expect(preview.errors).toEqual(['the plan has no setShare step, so it would never move any traffic']);
    expect(preview.findings.map((f) => f.code)).toEqual(['plan-invalid']);
  });
});

describe('the plan preview: capacity, analyses and Route53', () => {
  const rates = { reservationApi: 40, queryApi: 200 };

  it('says whether the peer could take the traffic back: ready, after scaling, or not within its max', () => {
    const plan = cutover({ steps: [{ setShare: 10 }, { setShare: 100 }], prescale });
    const at = (ready: { reservationApi: number; queryApi: number }) =>
      previewPlan(plan, facts({ rates, peer: { services, ready } })).steps[1]?.takeBack?.map((t) => [t.service, t.needed, t.verdict]);
    // All of it back: 40 req/s at 20 per pod = 2 pods, 200 at 50 = 4.
    expect(at({ reservationApi: 2, queryApi: 4 })).toEqual([
      ['reservationApi', 2, 'ready'],
      ['queryApi', 4, 'ready'],
    ]);
    expect(at({ reservationApi: 1, queryApi: 4 })?.[0]).toEqual(['reservationApi', 2, 'scales']);
    const small = { ...services, queryApi: { ...services.queryApi, replicas: { min: 1, max: 3 } } };
    const short = previewPlan(plan, facts({ rates, peer: { services: small, ready: { reservationApi: 2, queryApi: 2 } } }));
    expect(short.steps[1]?.takeBack?.[1]).toMatchObject({ verdict: 'short', needed: 4, max: 3 });
    expect(short.findings.find((f) => f.code === 'take-back-short')?.message).toMatch(
      /query-api needs 4 pods, has 2 ready, more than its max 3/,
    );
  });

  it('leaves the take-back unknown without the peer’s replicas, rather than guessing', () => {
    const preview = previewPlan(cutover({ steps: [{ setShare: 50 }], prescale }), facts({ rates }));
    expect(preview.steps[0]?.takeBack?.every((t) => t.verdict === 'unknown')).toBe(true);
    expect(preview.findings.map((f) => f.code)).not.toContain('take-back-short');
  });

  it('predicts a threshold analysis Inconclusive when one interval at that share holds fewer requests than minRequests', () => {
    const plan = {
      steps: [{ setShare: 1 }, { analysis: { template: 'slo' } }, { setShare: 50 }, { analysis: { template: 'slo' } }, { setShare: 100 }],
      analysis: [sloTemplate],
    };
    // 240 req/s × 1 % × 30 s = 72 < 100; × 50 % = 3,600.
    const preview = previewPlan(cutover(plan), facts({ rates }));
    expect(preview.steps[1]?.analysis).toMatchObject({ inconclusive: true, requests: 72, floor: 100 });
    expect(preview.steps[3]?.analysis).toMatchObject({ inconclusive: false, requests: 3600 });
    expect(preview.steps[1]?.dwellSeconds).toBe(60);
    const finding = preview.findings.find((f) => f.code === 'analysis-inconclusive');
    expect(finding).toMatchObject({ step: 2 });
    expect(finding?.message).toMatch(/about 72 requests per 30s measurement, fewer than minRequests 100.*pause there/);
  });

  it('predicts a peer analysis with its own judge: passes once the counts give a verdict, Inconclusive when a side stays under the floor', () => {
    const plan = {
      steps: [{ setShare: 10 }, { analysis: { template: 'peer' } }, { setShare: 100 }, { analysis: { template: 'peer' } }],
      analysis: [peerTemplate],
    };
    const preview = previewPlan(cutover(plan), facts({ rates }));
    const early = preview.steps[1]?.analysis;
    expect(early).toMatchObject({ kind: 'peer', inconclusive: false });
    expect(early?.reason).toMatch(/passes at look \d+/);
    expect(preview.steps[1]?.dwellSeconds).toBeLessThan(9 * 30);
    // At 100 % the peer gets nothing: no comparison is possible.
    expect(preview.steps[3]?.analysis).toMatchObject({ inconclusive: true, peerRequests: 0 });
    // Less traffic: more looks, and the same plan's ETA grows.
    const slow = previewPlan(cutover(plan), facts({ rates: { reservationApi: 4, queryApi: 20 } }));
    expect(slow.steps[1]?.dwellSeconds).toBeGreaterThan(preview.steps[1]?.dwellSeconds ?? 0);
  });

  it('counts the Route53 calls: per share change the read, the batch, the INSYNC polls and the read after; the peer’s read-backs once a TTL', () => {
    const preview = previewPlan(cutover({ steps: [{ setShare: 50 }, { setShare: 100 }] }), facts({ route53SyncSeconds: 11 }));
    // Each step: 3 + 2 polls; 2 × (11 + 5) + 5 more of drain = 37 s → 8 read-backs at TTL 5.
    expect(preview.steps.map((s) => s.route53Calls)).toEqual([5, 5]);
    expect(preview.etaSeconds).toBe(16 + 11 + 10);
    expect(preview.route53).toEqual({ calls: 10 + Math.ceil(37 / 5), peakPerSecond: 3, limitPerSecond: 5 });
  });
});

describe('the plan preview: findings for the reviewer', () => {
  const good = {
    steps: [{ setShare: 10 }, { pause: { duration: '30s' } }, { analysis: { template: 'slo' } }, { setShare: 100 }],
    analysis: [sloTemplate],
    drain: { ttls: 3 },
  };
  const table: [string, Record<string, unknown>, Partial<PreviewFacts>, FindingCode[]][] = [
    ['a careful plan', good, {}, []],
    [
      'a TTL longer than a pause',
      { ...good, steps: [{ setShare: 10 }, { pause: { duration: '30s' } }, { analysis: { template: 'slo' } }, { setShare: 100 }] },
      { ttlSeconds: 60 },
      ['ttl-longer-than-pause'],
    ],
    [
      'a first step above 25 %',
      { ...good, steps: [{ setShare: 30 }, { analysis: { template: 'slo' } }, { setShare: 100 }] },
      {},
      ['first-step-above-25'],
    ],
    ['a first step of exactly 25 %', { ...good, steps: [{ setShare: 25 }, { analysis: { template: 'slo' } }, { setShare: 100 }] }, {}, []],
    [
      'no analysis before 100 %',
      { ...good, steps: [{ setShare: 10 }, { setShare: 100 }, { analysis: { template: 'slo' } }] },
      {},
      ['no-analysis-before-100'],
    ],
    ['the shortcut form (no analysis at all)', { stepPercent: 20, drain: { ttls: 3 } }, {}, ['no-analysis-before-100']],
    ['a drain of one TTL', { ...good, drain: { ttls: 1 } }, {}, ['drain-shorter-than-two-ttls']],
    [
      'prescale with a Prometheus that sees one cluster',
      { ...good, prescale },
      { prometheusSeesBoth: false },
      ['prescale-without-both-clusters'],
    ],
    [
      'prescale with a Prometheus that cannot be asked',
      { ...good, prescale },
      { prometheusProblem: 'no answer in 5 s' },
      ['prescale-without-both-clusters'],
    ],
    ['prescale with a Prometheus that sees both', { ...good, prescale }, { prometheusSeesBoth: true }, []],
  ];

  it.each(table)('%s', (_, plan, extra, expected) => {
    // Rates known, so the only findings are the plan's.
    const found = codes(plan, { rates: { reservationApi: 40, queryApi: 200 }, ...extra });
    expect(found).toEqual(expected);
  });

  it('gives each finding its reason', () => {
    const preview = previewPlan(
      cutover({ steps: [{ setShare: 50 }, { pause: { duration: '10s' } }, { setShare: 100 }], drain: { ttls: 1 }, prescale }),
      facts({ ttlSeconds: 30, prometheusSeesBoth: false, rates: { reservationApi: 40, queryApi: 200 } }),
    );
    const reasons = Object.fromEntries(preview.findings.map((f) => [f.code, f.message]));
    expect(reasons['ttl-longer-than-pause']).toMatch(/TTL \(30s\) is longer than this pause \(10s\)/);
    expect(reasons['first-step-above-25']).toMatch(/sends 50% here at once/);
    expect(reasons['no-analysis-before-100']).toMatch(/without a check of the SLOs/);
    expect(reasons['drain-shorter-than-two-ttls']).toMatch(/drain.ttls is 1/);
    expect(reasons['prescale-without-both-clusters']).toMatch(/series of only one cluster/);
  });

  it('says when no request rate could be read, and predicts nothing that needs one', () => {
    const preview = previewPlan(cutover({ ...good }), facts({ prometheusProblem: 'no answer in 5 s' }));
    expect(preview.findings.map((f) => [f.code, f.message])).toEqual([['no-rates', expect.stringMatching(/no answer in 5 s/)]]);
    expect(preview.steps[2]?.analysis?.inconclusive).toBe(false);
  });

  it('tells the clusters apart in Prometheus by any of their names', () => {
    expect(seesBothClusters(['blue', 'green'], ['eks-green', 'green'], ['eks-blue', 'blue'])).toBe(true);
    expect(seesBothClusters(['blue'], ['eks-green', 'green'], ['eks-blue', 'blue'])).toBe(false);
    expect(seesBothClusters([], ['eks-green'], ['eks-blue'])).toBe(false);
  });
});
