import { describe, expect, it } from '@jest/globals';
import { cutoverSteps, DEFAULTS, describeRoute53, simSettings } from '../settings.ts';

describe('simSettings', () => {
  it('defaults without any SIM_ variable', () => {
    expect(simSettings({})).toEqual(DEFAULTS);
  });

  it('reads every knob', () => {
    const s = simSettings({
      SIM_TTL: '2',
      SIM_STEPS: '20, 60,100',
      SIM_PAUSE: '0',
      SIM_CLIENTS: '10',
      SIM_RATE: '5',
      SIM_BLUE_STOP: 'succeeded',
      SIM_DRAIN_TTLS: '4',
      SIM_CONNECTION_CLOSE: '0',
      SIM_SETTLE: '0',
      SIM_SETTLE_MAX_WAIT: '30',
      SIM_ROUTE53_INSYNC: '1.5-3',
      SIM_ROUTE53_RATE: '5',
      SIM_ROUTE53_MAX_CALLS: '0.5',
      SIM_EXTERNAL_DNS: '1',
      SIM_EXTERNAL_DNS_INTERVAL: '0.5',
      SIM_EXTERNAL_DNS_CHURN: '3',
    });
    expect(s).toMatchObject({
      ttlSeconds: 2,
      shares: [20, 60, 100],
      pauseSeconds: 0,
      clients: 10,
      rate: 5,
      blueStop: 'succeeded',
      drainTtls: 4,
      connectionClose: false,
      settle: false,
      settleMaxWaitSeconds: 30,
      route53: { insyncDelayMs: { min: 1500, max: 3000 }, requestsPerSecond: 5 },
      maxOperatorCallsPerSecond: 0.5,
      externalDns: { intervalMs: 500, churnMs: 3000 },
    });
    // Its interval and churn only count with ExternalDNS on.
    expect(simSettings({ SIM_EXTERNAL_DNS_INTERVAL: '2' }).externalDns).toBeUndefined();
  });

  it('names every bad variable in one error', () => {
    expect(() => simSettings({ SIM_TTL: '0', SIM_STEPS: '10,50', SIM_KEEPALIVE_SHARE: '2' })).toThrow(
      'SIM_STEPS must end at 100 (a full cutover), not "10,50"; SIM_TTL must be a whole number of seconds from 1 to 3600, not "0"; ' +
        'SIM_KEEPALIVE_SHARE must be a fraction from 0 to 1, not "2"',
    );
    expect(() => simSettings({ SIM_STEPS: '50,25,100' })).toThrow('SIM_STEPS must rise step by step');
    expect(() => simSettings({ SIM_STEPS: '10,abc,100' })).toThrow('SIM_STEPS must be comma-separated shares');
    expect(() => simSettings({ SIM_ROUTE53_INSYNC: 'slow', SIM_ROUTE53_RATE: '0' })).toThrow(
      'SIM_ROUTE53_INSYNC must be seconds, one number or a range like 30-60 (at most 600), not "slow"; ' +
        'SIM_ROUTE53_RATE must be requests per second, more than 0 and at most 1000, not "0"',
    );
    expect(() => simSettings({ SIM_EXTERNAL_DNS: 'yes', SIM_EXTERNAL_DNS_INTERVAL: '0', SIM_EXTERNAL_DNS_CHURN: 'x' })).toThrow(
      'SIM_EXTERNAL_DNS must be 0 or 1, not "yes"; SIM_EXTERNAL_DNS_INTERVAL must be seconds from 0.1 to 600, not "0"; ' +
        'SIM_EXTERNAL_DNS_CHURN must be seconds from 1 to 600, not "x"',
    );
    expect(() => simSettings({ SIM_ROUTE53_MAX_CALLS: '-1' })).toThrow(
      'SIM_ROUTE53_MAX_CALLS must be requests per second, more than 0 and at most 1000, not "-1"',
    );
    expect(() => simSettings({ SIM_BLUE_STOP: 'never' })).toThrow('SIM_BLUE_STOP must be idle or succeeded, not "never"');
    expect(() => simSettings({ SIM_SETTLE: 'on' })).toThrow('SIM_SETTLE must be 0 or 1, not "on"');
    expect(() => simSettings({ SIM_CONNECTION_CLOSE: 'yes', SIM_DRAIN_TTLS: '0' })).toThrow(
      'SIM_CONNECTION_CLOSE must be 0 or 1, not "yes"; SIM_DRAIN_TTLS must be a whole number of TTLs from 1 to 100, not "0"',
    );
  });
});

describe('cutoverSteps', () => {
  it('puts a pause between two steps, none after the last', () => {
    expect(cutoverSteps({ shares: [25, 100], pauseSeconds: 30, manualPauses: false })).toEqual([
      { setShare: 25 },
      { pause: { duration: '30s' } },
      { setShare: 100 },
    ]);
    expect(cutoverSteps({ shares: [25, 100], pauseSeconds: 30, manualPauses: true })[1]).toEqual({ pause: {} });
    expect(cutoverSteps({ shares: [25, 100], pauseSeconds: 0, manualPauses: false })).toEqual([{ setShare: 25 }, { setShare: 100 }]);
  });
});

describe('describeRoute53', () => {
  it('says how the stand-in behaves: as moto by default, or as AWS with its delay and rate', () => {
    expect(describeRoute53({})).toBe('changes INSYNC at once, no rate limit');
    expect(describeRoute53({ insyncDelayMs: { min: 30_000, max: 60_000 }, requestsPerSecond: 5 })).toBe(
      'changes PENDING for 30s-60s, 5 requests/s for the account',
    );
    expect(describeRoute53({ insyncDelayMs: { min: 2500, max: 2500 } })).toBe('changes PENDING for 2.5s, no rate limit');
  });
});
