import type { Route53AwsBehaviour } from '@reservations/testkit';

/** The simulation's knobs, from the environment (pure): every bad value is refused naming its variable. */

export interface SimSettings {
  /** The records' TTL, seconds (SIM_TTL). */
  ttlSeconds: number;
  /** Green's shares, one setShare step each (SIM_STEPS). */
  shares: number[];
  /** How long each pause between two steps lasts, seconds (SIM_PAUSE); 0 for none. */
  pauseSeconds: number;
  /** Pauses without a duration, promoted by the script after pauseSeconds (SIM_MANUAL_PAUSE=1). */
  manualPauses: boolean;
  /** Virtual clients (SIM_CLIENTS). */
  clients: number;
  /** Total requests per second over all clients (SIM_RATE). */
  rate: number;
  /** Share of requests that are reads from query-api, the rest writes to reservation-api (SIM_READ_SHARE). */
  readShare: number;
  /** Share of clients that keep their connection past the TTL (SIM_KEEPALIVE_SHARE). */
  keepAliveShare: number;
  /** How long those keep it, in TTLs (SIM_KEEPALIVE_TTLS). */
  keepAliveTtls: number;
  /** When blue stops after Succeeded: `idle` once it has had no request for one TTL, `succeeded` at once (SIM_BLUE_STOP). */
  blueStop: 'idle' | 'succeeded';
  /** How long the load goes on after blue has stopped, in TTLs (SIM_AFTER_TTLS). */
  afterTtls: number;
  /** Largest accepted difference between observed and configured share, points (SIM_TOLERANCE). */
  tolerance: number;
  /** TTLs the operator drains blue for after its weight 0 is in sync (SIM_DRAIN_TTLS, spec drain.ttls). */
  drainTtls: number;
  /** How the Route53 stand-in behaves (SIM_ROUTE53_INSYNC, SIM_ROUTE53_RATE): see route53Knobs. */
  route53: Partial<Route53AwsBehaviour>;
  /** Blue's services close keep-alive connections as traffic leaves: each step's share, all while it drains (SIM_CONNECTION_CLOSE=1, spec drain.connectionClose). */
  connectionClose: boolean;
  /**
   * A step settles by the traffic green is observed to get (SIM_SETTLE=1, spec settle, with the
   * platform's Prometheus); its window then opens when the step settled. 0: no Prometheus, steps
   * count once in sync for a TTL.
   */
  settle: boolean;
  /** settle.maxWait, seconds (SIM_SETTLE_MAX_WAIT). */
  settleMaxWaitSeconds: number;
  /**
   * A busy ExternalDNS per cluster on the zone, sharing the stand-in's budget (SIM_EXTERNAL_DNS=1):
   * a sync every intervalMs (SIM_EXTERNAL_DNS_INTERVAL, seconds), other apps' Services made and
   * deleted every churnMs (SIM_EXTERNAL_DNS_CHURN, seconds). Undefined: none.
   */
  externalDns?: { intervalMs: number; churnMs: number };
  /** Largest accepted average of the operators' own Route53 calls per second over the cutover, when the account has a rate (SIM_ROUTE53_MAX_CALLS). */
  maxOperatorCallsPerSecond: number;
}

export const DEFAULTS: SimSettings = {
  ttlSeconds: 5,
  shares: [10, 25, 50, 75, 100],
  pauseSeconds: 30,
  manualPauses: false,
  clients: 200,
  rate: 100,
  readShare: 0.8,
  keepAliveShare: 0.2,
  keepAliveTtls: 3,
  blueStop: 'idle',
  afterTtls: 2,
  tolerance: 5,
  drainTtls: 2,
  connectionClose: true,
  settle: true,
  settleMaxWaitSeconds: 120,
  route53: {},
  maxOperatorCallsPerSecond: 1,
};

const int = (n: number) => Number.isInteger(n);

/**
 * Reads numeric knobs from `env` (pure): a knob's number, or `fallback` when it is unset; a bad
 * value adds an error naming the variable to `errors` (and gives the fallback).
 */
export function numberKnob(env: Readonly<Record<string, string | undefined>>, errors: string[]) {
  return (name: string, fallback: number, check: (n: number) => boolean, what: string): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || !check(n)) {
      errors.push(`${name} must be ${what}, not "${text}"`);
      return fallback;
    }
    return n;
  };
}

/**
 * How the Route53 stand-in in front of moto behaves (pure): `<PREFIX>_ROUTE53_INSYNC`, the seconds
 * a change stays PENDING ("30-60" for a random time in that range, as AWS takes, or one number),
 * and `<PREFIX>_ROUTE53_RATE`, the account's requests per second (AWS: 5). Unset: as moto, every
 * change INSYNC at once and no limit.
 */
export function route53Knobs(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  errors: string[],
): Partial<Route53AwsBehaviour> {
  const behaviour: Partial<Route53AwsBehaviour> = {};
  const insyncName = `${prefix}_ROUTE53_INSYNC`;
  const insync = env[insyncName];
  if (insync) {
    const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(insync.trim());
    const min = Number(m?.[1]);
    const max = Number(m?.[2] ?? m?.[1]);
    if (!m || max < min || max > 600)
      errors.push(`${insyncName} must be seconds, one number or a range like 30-60 (at most 600), not "${insync}"`);
    else behaviour.insyncDelayMs = { min: min * 1000, max: max * 1000 };
  }
  const rate = numberKnob(env, errors)(
    `${prefix}_ROUTE53_RATE`,
    0,
    (n) => n > 0 && n <= 1000,
    'requests per second, more than 0 and at most 1000',
  );
  if (rate > 0) behaviour.requestsPerSecond = rate;
  return behaviour;
}

/**
 * A busy ExternalDNS per cluster on the zone (pure): `<PREFIX>_EXTERNAL_DNS=1` turns it on,
 * `<PREFIX>_EXTERNAL_DNS_INTERVAL` is its --interval (seconds, default 1),
 * `<PREFIX>_EXTERNAL_DNS_CHURN` the seconds between making another app's Service and deleting it
 * (default 5). Undefined when off.
 */
export function externalDnsKnobs(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  errors: string[],
): { intervalMs: number; churnMs: number } | undefined {
  const name = `${prefix}_EXTERNAL_DNS`;
  const on = env[name] ?? '';
  if (!['', '0', '1'].includes(on)) errors.push(`${name} must be 0 or 1, not "${on}"`);
  const number = numberKnob(env, errors);
  const interval = number(`${name}_INTERVAL`, 1, (n) => n >= 0.1 && n <= 600, 'seconds from 0.1 to 600');
  const churn = number(`${name}_CHURN`, 5, (n) => n >= 1 && n <= 600, 'seconds from 1 to 600');
  return on === '1' ? { intervalMs: interval * 1000, churnMs: churn * 1000 } : undefined;
}

/** The busy ExternalDNS in words, for a summary. */
export function describeExternalDns(e: { intervalMs: number; churnMs: number } | undefined): string {
  return e
    ? `a busy ExternalDNS per cluster on the zone (a sync every ${e.intervalMs / 1000}s, a Service made and deleted every ${e.churnMs / 1000}s)`
    : 'no ExternalDNS';
}

/** The Route53 stand-in's behaviour in words, for a summary. */
export function describeRoute53(b: Partial<Route53AwsBehaviour>): string {
  const d = b.insyncDelayMs;
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;
  const insync =
    !d || d.max === 0
      ? 'changes INSYNC at once'
      : `changes PENDING for ${d.min === d.max ? seconds(d.max) : `${seconds(d.min)}-${seconds(d.max)}`}`;
  const rate =
    b.requestsPerSecond === undefined || !Number.isFinite(b.requestsPerSecond)
      ? 'no rate limit'
      : `${b.requestsPerSecond} requests/s for the account`;
  return `${insync}, ${rate}`;
}

export function simSettings(env: Readonly<Record<string, string | undefined>>): SimSettings {
  const errors: string[] = [];
  const number = numberKnob(env, errors);
  const fraction = (n: number) => n >= 0 && n <= 1;

  let shares = DEFAULTS.shares;
  if (env.SIM_STEPS) {
    const parts = env.SIM_STEPS.split(',').map((s) => s.trim());
    const parsed = parts.map(Number);
    if (parsed.some((n, i) => parts[i] === '' || !int(n) || n < 1 || n > 100)) {
      errors.push(`SIM_STEPS must be comma-separated shares from 1 to 100, not "${env.SIM_STEPS}"`);
    } else if (parsed.some((n, i) => i > 0 && n <= (parsed[i - 1] ?? 0))) {
      errors.push(`SIM_STEPS must rise step by step, not "${env.SIM_STEPS}"`);
    } else if (parsed.at(-1) !== 100) {
      errors.push(`SIM_STEPS must end at 100 (a full cutover), not "${env.SIM_STEPS}"`);
    } else shares = parsed;
  }
  const blueStop = env.SIM_BLUE_STOP || DEFAULTS.blueStop;
  if (blueStop !== 'idle' && blueStop !== 'succeeded') errors.push(`SIM_BLUE_STOP must be idle or succeeded, not "${blueStop}"`);
  const manual = env.SIM_MANUAL_PAUSE ?? '';
  if (!['', '0', '1'].includes(manual)) errors.push(`SIM_MANUAL_PAUSE must be 0 or 1, not "${manual}"`);
  const close = env.SIM_CONNECTION_CLOSE ?? '';
  if (!['', '0', '1'].includes(close)) errors.push(`SIM_CONNECTION_CLOSE must be 0 or 1, not "${close}"`);
  const settle = env.SIM_SETTLE ?? '';
  if (!['', '0', '1'].includes(settle)) errors.push(`SIM_SETTLE must be 0 or 1, not "${settle}"`);
  const externalDns = externalDnsKnobs(env, 'SIM', errors);

  const settings: SimSettings = {
    ttlSeconds: number('SIM_TTL', DEFAULTS.ttlSeconds, (n) => int(n) && n >= 1 && n <= 3600, 'a whole number of seconds from 1 to 3600'),
    shares,
    pauseSeconds: number('SIM_PAUSE', DEFAULTS.pauseSeconds, (n) => int(n) && n >= 0, 'a whole number of seconds (0 for no pause)'),
    manualPauses: manual === '1',
    clients: number('SIM_CLIENTS', DEFAULTS.clients, (n) => int(n) && n >= 1 && n <= 10_000, 'a whole number from 1 to 10000'),
    rate: number('SIM_RATE', DEFAULTS.rate, (n) => n > 0 && n <= 5000, 'requests per second, more than 0 and at most 5000'),
    readShare: number('SIM_READ_SHARE', DEFAULTS.readShare, fraction, 'a fraction from 0 to 1'),
    keepAliveShare: number('SIM_KEEPALIVE_SHARE', DEFAULTS.keepAliveShare, fraction, 'a fraction from 0 to 1'),
    keepAliveTtls: number('SIM_KEEPALIVE_TTLS', DEFAULTS.keepAliveTtls, (n) => n >= 1, 'a number of TTLs, at least 1'),
    blueStop: blueStop as SimSettings['blueStop'],
    afterTtls: number('SIM_AFTER_TTLS', DEFAULTS.afterTtls, (n) => n >= 1, 'a number of TTLs, at least 1'),
    tolerance: number('SIM_TOLERANCE', DEFAULTS.tolerance, (n) => n >= 0 && n <= 100, 'points from 0 to 100'),
    drainTtls: number('SIM_DRAIN_TTLS', DEFAULTS.drainTtls, (n) => int(n) && n >= 1 && n <= 100, 'a whole number of TTLs from 1 to 100'),
    connectionClose: close === '' ? DEFAULTS.connectionClose : close === '1',
    settle: settle === '' ? DEFAULTS.settle : settle === '1',
    settleMaxWaitSeconds: number(
      'SIM_SETTLE_MAX_WAIT',
      DEFAULTS.settleMaxWaitSeconds,
      (n) => int(n) && n >= 1 && n <= 3600,
      'a whole number of seconds from 1 to 3600',
    ),
    route53: route53Knobs(env, 'SIM', errors),
    ...(externalDns ? { externalDns } : {}),
    maxOperatorCallsPerSecond: number(
      'SIM_ROUTE53_MAX_CALLS',
      DEFAULTS.maxOperatorCallsPerSecond,
      (n) => n > 0 && n <= 1000,
      'requests per second, more than 0 and at most 1000',
    ),
  };
  if (settings.manualPauses && settings.pauseSeconds === 0)
    errors.push('SIM_MANUAL_PAUSE=1 needs SIM_PAUSE > 0: how long to hold before promoting');
  if (errors.length > 0) throw new Error(errors.join('; '));
  return settings;
}

/** spec.traffic.cutover.steps: each share, with a pause between two (none after the last). */
export function cutoverSteps(s: Pick<SimSettings, 'shares' | 'pauseSeconds' | 'manualPauses'>): Record<string, unknown>[] {
  return s.shares.flatMap((share, i) => {
    const last = i === s.shares.length - 1;
    if (last || s.pauseSeconds === 0) return [{ setShare: share }];
    return [{ setShare: share }, { pause: s.manualPauses ? {} : { duration: `${s.pauseSeconds}s` } }];
  });
}
