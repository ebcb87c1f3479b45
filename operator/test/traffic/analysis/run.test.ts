import { describe, expect, it } from '@jest/globals';
import type { AnalysisRun } from '../../../src/api/v1alpha1/reservation.ts';
import type { Judgement, Verdict } from '../../../src/traffic/analysis/judge.ts';
import { analysisIntervalMs, recordMeasurement, resultOf, startAnalysis } from '../../../src/traffic/analysis/run.ts';
import { template } from './templates.ts';

const t0 = new Date('2026-11-25T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const judged = (verdict: Verdict): Judgement => ({ verdict, message: `${verdict} message` });

/** Records one measurement per verdict, 30 s apart, and returns every run along the way. */
function runThrough(verdicts: Verdict[], overrides = {}): AnalysisRun[] {
  const t = template(overrides);
  let run = startAnalysis(t, 2, t0);
  const runs: AnalysisRun[] = [];
  verdicts.forEach((v, i) => {
    run = recordMeasurement(run, t, { requests: 100, successRate: 0.995, latencyP99Ms: 120 }, judged(v), at(30 * (i + 1)));
    runs.push(run);
  });
  return runs;
}

describe('startAnalysis', () => {
  it('starts Running with nothing counted', () => {
    expect(startAnalysis(template(), 2, t0)).toEqual({
      template: 'slo',
      step: 2,
      result: 'Running',
      measurements: 0,
      failures: 0,
      inconclusive: 0,
      message: 'waiting for the first of 3 measurements, one every 30s',
      startedAt: '2026-11-25T10:00:00.000Z',
    });
    expect(startAnalysis(template({ count: 1 }), 0, t0).message).toBe('waiting for the first of 1 measurement');
  });
});

describe('the result after each measurement', () => {
  const cases: Array<[string, Verdict[], object, string[]]> = [
    ['all ok', ['ok', 'ok', 'ok'], {}, ['Running', 'Running', 'Successful']],
    ['a failure with failureLimit 0 fails at once', ['ok', 'failed'], {}, ['Running', 'Failed']],
    ['a failure within failureLimit', ['failed', 'ok', 'ok'], { failureLimit: 1 }, ['Running', 'Running', 'Successful']],
    ['one failure more than failureLimit', ['failed', 'ok', 'failed'], { failureLimit: 1 }, ['Running', 'Running', 'Failed']],
    [
      'an inconclusive one makes the whole Inconclusive once all are in',
      ['inconclusive', 'ok', 'ok'],
      {},
      ['Running', 'Running', 'Inconclusive'],
    ],
    ['a failure beyond the limit wins over inconclusive', ['inconclusive', 'failed'], {}, ['Running', 'Failed']],
    [
      'failures within the limit and an inconclusive one',
      ['failed', 'inconclusive', 'ok'],
      { failureLimit: 1 },
      ['Running', 'Running', 'Inconclusive'],
    ],
    ['count 1', ['ok'], { count: 1 }, ['Successful']],
    ['all inconclusive', ['inconclusive', 'inconclusive', 'inconclusive'], {}, ['Running', 'Running', 'Inconclusive']],
  ];
  it.each(cases)('%s', (_, verdicts, overrides, results) => {
    expect(runThrough(verdicts, overrides).map((r) => r.result)).toEqual(results);
  });

  it('counts measurements, failures and inconclusive ones, and keeps the last values and when', () => {
    const last = runThrough(['failed', 'inconclusive', 'ok'], { failureLimit: 1 }).at(-1);
    expect(last).toEqual({
      template: 'slo',
      step: 2,
      result: 'Inconclusive',
      measurements: 3,
      failures: 1,
      inconclusive: 1,
      successRate: 0.995,
      latencyP99Ms: 120,
      requests: 100,
      message:
        'Inconclusive: 1 of 3 measurements had no verdict (too little traffic or no data), so the SLO was not shown to hold (policy: Pause); measurement 3/3 ok: ok message',
      startedAt: '2026-11-25T10:00:00.000Z',
      measuredAt: '2026-11-25T10:01:30.000Z',
    });
  });

  it('says why in the message', () => {
    expect(runThrough(['ok'])[0]?.message).toBe('measurement 1/3 ok: ok message');
    expect(runThrough(['failed'])[0]?.message).toBe(
      'Failed: 1 of 1 measurement failed, more than failureLimit 0; measurement 1/3 failed: failed message',
    );
    expect(runThrough(['ok', 'ok', 'ok']).at(-1)?.message).toBe(
      'Successful: 3 of 3 measurements within the SLO; measurement 3/3 ok: ok message',
    );
    expect(runThrough(['failed', 'ok', 'ok'], { failureLimit: 1 }).at(-1)?.message).toBe(
      'Successful: 1 of 3 measurements failed, within failureLimit 1; measurement 3/3 ok: ok message',
    );
  });

  it('leaves out values that are not numbers (JSON has no NaN), and drops the previous ones', () => {
    const t = template();
    let run = startAnalysis(t, 0, t0);
    run = recordMeasurement(run, t, { requests: 100, successRate: 1, latencyP99Ms: 20 }, judged('ok'), at(30));
    run = recordMeasurement(run, t, { requests: Number.NaN, successRate: Number.NaN }, judged('inconclusive'), at(60));
    expect(run).not.toHaveProperty('successRate');
    expect(run).not.toHaveProperty('latencyP99Ms');
    expect(run).not.toHaveProperty('requests');
    expect(JSON.parse(JSON.stringify(run))).toEqual(run);
  });

  it('refuses a measurement for a finished run or for another template', () => {
    const t = template({ count: 1 });
    const done = recordMeasurement(startAnalysis(t, 0, t0), t, { requests: 100 }, judged('ok'), at(30));
    expect(() => recordMeasurement(done, t, { requests: 100 }, judged('ok'), at(60))).toThrow(
      'analysis "slo" of step 0 has already finished (Successful); start a new one',
    );
    expect(() => recordMeasurement(startAnalysis(t, 0, t0), template({ name: 'other' }), { requests: 1 }, judged('ok'), at(30))).toThrow(
      'analysis run is for template "slo", not "other"',
    );
  });

  it('resultOf reads the counts alone', () => {
    expect(resultOf({ measurements: 0, failures: 0, inconclusive: 0 }, { count: 3, failureLimit: 0 })).toBe('Running');
    expect(resultOf({ measurements: 5, failures: 0, inconclusive: 0 }, { count: 3, failureLimit: 0 })).toBe('Successful');
  });
});

describe('analysisIntervalMs', () => {
  it('reads the interval, and names the template when it is not a duration', () => {
    expect(analysisIntervalMs(template({ interval: '1m30s' }))).toBe(90_000);
    expect(() => analysisIntervalMs(template({ interval: '30' }))).toThrow(
      'analysis "slo": interval must be like 30s, 1m or 1m30s (more than 0), not "30"',
    );
    expect(() => analysisIntervalMs(template({ interval: '0s' }))).toThrow(/more than 0/);
  });
});
