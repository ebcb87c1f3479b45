import { describe, expect, it } from '@jest/globals';
import { cutoverSteps, DEFAULTS, simSettings } from '../settings.ts';

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
    });
  });

  it('names every bad variable in one error', () => {
    expect(() => simSettings({ SIM_TTL: '0', SIM_STEPS: '10,50', SIM_KEEPALIVE_SHARE: '2' })).toThrow(
      'SIM_STEPS must end at 100 (a full cutover), not "10,50"; SIM_TTL must be a whole number of seconds from 1 to 3600, not "0"; ' +
        'SIM_KEEPALIVE_SHARE must be a fraction from 0 to 1, not "2"',
    );
    expect(() => simSettings({ SIM_STEPS: '50,25,100' })).toThrow('SIM_STEPS must rise step by step');
    expect(() => simSettings({ SIM_STEPS: '10,abc,100' })).toThrow('SIM_STEPS must be comma-separated shares');
    expect(() => simSettings({ SIM_BLUE_STOP: 'never' })).toThrow('SIM_BLUE_STOP must be idle or succeeded, not "never"');
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
