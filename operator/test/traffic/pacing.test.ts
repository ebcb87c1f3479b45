import { describe, expect, it } from '@jest/globals';
import {
  type BurnRates,
  burnAlert,
  burnRate,
  checkPacing,
  errorBudget,
  type PacingInput,
  type PacingSettings,
  pace,
  requestsNeeded,
} from '../../src/traffic/pacing.ts';

const settings: PacingSettings = {
  objective: 0.999,
  windowDays: 30,
  budgetFraction: 0.01,
  minDwellMs: 60_000,
  maxDwellMs: 1_800_000,
  fastBurn: 14.4,
  slowBurn: 6,
};
const calm: BurnRates = { fastShort: 0.4, fastLong: 0.3, slowShort: 0.35, slowLong: 0.2 };
const input = (overrides: Partial<PacingInput> = {}): PacingInput => ({
  step: 3,
  sharePercent: 10,
  elapsedMs: 120_000,
  requests: 1840,
  totalRatePerSecond: 100,
  burn: calm,
  ...overrides,
});

describe('the budget and the requests a step waits for', () => {
  it('99.9 % over 30 days at 100 req/s: 259,200 requests may fail; a step waits for 1 % of that', () => {
    expect(errorBudget(settings, 100)).toBeCloseTo(259_200, 6);
    expect(requestsNeeded(settings, 100)).toBe(2592);
  });

  it('scales with traffic: low traffic makes steps longer, high traffic shorter', () => {
    // At 10 % of 100 req/s a step needs 259 s; at 10 % of 1,000 req/s the ten times larger target comes ten times faster.
    expect(requestsNeeded(settings, 1000)).toBe(25_920);
    expect(requestsNeeded(settings, 0)).toBe(0);
  });

  it('burn rate: the error ratio over the budget’s even spend', () => {
    expect(burnRate(0.0144, 0.999)).toBeCloseTo(14.4, 9);
    expect(burnRate(0, 0.999)).toBe(0);
  });
});

describe('burnAlert (multi-window, multi-burn-rate)', () => {
  it('alerts only when both windows of a pair burn at or above the threshold', () => {
    expect(burnAlert(settings, { ...calm, fastShort: 20, fastLong: 14.4 })).toBe('fast');
    expect(burnAlert(settings, { ...calm, fastShort: 20 })).toBeUndefined();
    expect(burnAlert(settings, { ...calm, slowShort: 6, slowLong: 7 })).toBe('slow');
    expect(burnAlert(settings, { ...calm, slowShort: 9, slowLong: 5.9 })).toBeUndefined();
    expect(burnAlert(settings, { fastShort: Number.NaN, fastLong: 20, slowShort: Number.NaN, slowLong: 9 })).toBeUndefined();
  });
});

describe('pace', () => {
  it('waits for the requests, saying how far it is and when to look again', () => {
    const d = pace(settings, input());
    expect(d).toEqual({
      action: 'wait',
      message: 'step 3: 1,840 of 2,592 requests at 10 %, burn 0.4×',
      requestsNeeded: 2592,
      waitMs: 75_200,
    });
  });

  it('advances once the requests are in and both slow windows burn below 6×', () => {
    expect(pace(settings, input({ requests: 2600 }))).toMatchObject({
      action: 'advance',
      message: 'step 3: 2,600 of 2,592 requests at 10 %, burn 0.4×: enough requests, burn below 6×',
    });
  });

  it('does not advance before minDwell, however much traffic', () => {
    expect(pace(settings, input({ requests: 1_000_000, elapsedMs: 30_000 }))).toMatchObject({ action: 'wait', waitMs: 30_000 });
  });

  it('aborts on a fast burn over both windows, even before minDwell', () => {
    const d = pace(settings, input({ elapsedMs: 10_000, burn: { ...calm, fastShort: 20, fastLong: 15 } }));
    expect(d.action).toBe('abort');
    expect(d.message).toBe(
      'step 3: 1,840 of 2,592 requests at 10 %, burn 20×: fast burn, 20× over the short window and 15× over the long one (abort at 14.4× on both)',
    );
  });

  it('pauses on a slow burn over both windows, with the reason', () => {
    const d = pace(settings, input({ requests: 3000, burn: { ...calm, slowShort: 7, slowLong: 6.5 } }));
    expect(d).toMatchObject({ action: 'pause' });
    expect(d.message).toContain('slow burn, 7× over the short window and 6.5× over the long one (pause at 6× on both)');
  });

  it('keeps waiting while one slow window is still high, even with the requests in', () => {
    const d = pace(settings, input({ requests: 3000, burn: { ...calm, slowShort: 8 } }));
    expect(d).toMatchObject({ action: 'wait', waitMs: 30_000 });
    expect(d.message).toContain('waiting for the burn to fall below 6× on both slow windows');
  });

  it('ends the step at maxDwell without its requests (a warning), but not while the burn is high', () => {
    expect(pace(settings, input({ elapsedMs: 1_800_000 }))).toMatchObject({ action: 'advance', shortOfRequests: true });
    expect(pace(settings, input({ elapsedMs: 1_800_000, burn: { ...calm, slowLong: Number.NaN } }))).toMatchObject({
      action: 'pause',
    });
  });

  it('with no traffic at this share, waits until maxDwell', () => {
    expect(pace(settings, input({ totalRatePerSecond: 100, sharePercent: 0, requests: 0 }))).toMatchObject({
      action: 'wait',
      waitMs: 1_680_000,
    });
  });
});

describe('checkPacing', () => {
  it.each([
    [{ objective: 1 }, 'pacing.objective must be between 0 and 1 (e.g. 0.999), not 1'],
    [{ budgetFraction: 0 }, 'pacing.budgetFraction must be above 0 and at most 1 (e.g. 0.01), not 0'],
    [{ maxDwellMs: 1000 }, 'pacing.maxDwell must not be shorter than minDwell'],
    [{ fastBurn: 6 }, 'pacing.fastBurn (6) must be above slowBurn (6), and both above 0'],
  ])('refuses %j', (change, message) => {
    expect(() => checkPacing({ ...settings, ...change })).toThrow(message);
  });

  it('accepts the Workbook’s values', () => {
    expect(checkPacing(settings)).toBe(settings);
  });
});
