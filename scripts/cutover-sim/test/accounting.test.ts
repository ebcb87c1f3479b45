import { describe, expect, it } from '@jest/globals';
import {
  clusteredStandardError,
  describeRoute53Calls,
  formatTable,
  type RequestRecord,
  route53CallsPerSecond,
  type Stack,
  shareByStep,
  verdict,
} from '../accounting.ts';

const request = (at: number, stack: Stack, status?: number): RequestRecord => ({
  at,
  stack,
  client: 0,
  latencyMs: 1,
  ...(status === undefined ? { error: 'ECONNREFUSED' } : { status }),
});

describe('shareByStep', () => {
  const requests = [
    request(500, 'blue', 201), // before the first window
    request(1000, 'green', 200),
    request(1500, 'blue', 200),
    request(1999, 'blue', 200),
    request(2000, 'green', 200), // the window's end is exclusive: this one is the next window's
    request(2500, 'green', 503),
    request(2600, 'blue'),
    request(2700, 'green', 409),
  ];

  it('counts each window’s requests by stack, green’s share against the configured one, and its failures', () => {
    const figures = shareByStep(requests, [
      { step: 0, share: 25, from: 1000, to: 2000 },
      { step: 2, share: 50, from: 2000, to: 3000 },
    ]);
    expect(figures).toEqual([
      { step: 0, share: 25, from: 1000, to: 2000, requests: 3, green: 1, failures: 0, observed: 33.3, difference: 8.3 },
      // a 503 and a refused connection are failures; a 409 is an answer
      { step: 2, share: 50, from: 2000, to: 3000, requests: 4, green: 3, failures: 2, observed: 75, difference: 25 },
    ]);
  });

  it('a request whose name did not resolve is a failure and counts for neither stack', () => {
    const unresolved: RequestRecord = { at: 1200, client: 1, error: 'resolve: no weighted record', latencyMs: 0 };
    const [figures] = shareByStep([...requests, unresolved], [{ step: 0, share: 25, from: 1000, to: 2000 }]);
    expect(figures).toMatchObject({ requests: 4, green: 1, failures: 1, observed: 33.3 });
  });

  it('a window without requests has no observed share', () => {
    expect(shareByStep(requests, [{ step: 4, share: 100, from: 5000, to: 6000 }])[0]).toEqual({
      step: 4,
      share: 100,
      from: 5000,
      to: 6000,
      requests: 0,
      green: 0,
      failures: 0,
    });
  });
});

describe('clusteredStandardError', () => {
  const clients = (count: number, perClient: number, greenClients: number): RequestRecord[] =>
    Array.from({ length: count }, (_, client) =>
      Array.from(
        { length: perClient },
        (_, i) => ({ at: i, client, stack: client < greenClients ? 'green' : 'blue', latencyMs: 1 }) as const,
      ),
    ).flat();

  it('is the binomial standard error when every client sent one request', () => {
    // sqrt(0.5 * 0.5 / 100), times sqrt(100 / 99) for the clusters' small-sample correction
    expect(clusteredStandardError(clients(100, 1, 50))).toBeCloseTo(0.05 * Math.sqrt(100 / 99), 10);
  });

  it('counts a client that kept its answer for all its requests as one draw, not many', () => {
    const clustered = clusteredStandardError(clients(10, 10, 5)) ?? 0;
    expect(clustered).toBeCloseTo(Math.sqrt(0.25 / 10) * Math.sqrt(10 / 9), 10);
    expect(clustered).toBeGreaterThan(3 * Math.sqrt(0.25 / 100)); // the naive figure over 100 requests
  });

  it('is undefined for one client, and 0 when every client got the same stack', () => {
    expect(clusteredStandardError(clients(1, 50, 1))).toBeUndefined();
    expect(clusteredStandardError(clients(20, 3, 20))).toBe(0);
  });

  it('is what shareByStep reports, in points, for the window’s requests that reached a stack', () => {
    const [figures] = shareByStep(clients(100, 1, 25), [{ step: 0, share: 25, from: 0, to: 1 }]);
    expect(figures).toMatchObject({ observed: 25, standardError: Math.round(Math.sqrt(0.25 * 0.75 * 0.01 * (100 / 99)) * 1000) / 10 });
  });
});

describe('verdict', () => {
  const step = (share: number, observed?: number) => ({
    step: 0,
    share,
    from: 0,
    to: 1,
    requests: 1,
    green: 1,
    failures: 0,
    ...(observed === undefined ? {} : { observed, difference: observed - share }),
  });

  it('meets the targets with no failure and every step within the tolerance, either side', () => {
    expect(verdict([step(25, 30), step(50, 45)], [], 5)).toEqual({ ok: true, reasons: [] });
  });

  it('misses them on any failed request, a step off by more than the tolerance, or a step without requests', () => {
    const failed = [
      { at: 1, stack: 'blue' as const, client: 0, error: 'TimeoutError', latencyMs: 10_000 },
      { at: 2, stack: 'green' as const, client: 1, status: 503, latencyMs: 3 },
      { at: 3, stack: 'blue' as const, client: 2, error: 'TimeoutError', latencyMs: 10_000 },
      { at: 4, client: 3, error: 'resolve: no answer', latencyMs: 3000 },
    ];
    const result = verdict([{ ...step(25, 30.1), standardError: 2.2 }, step(50)], failed, 5);
    expect(result.ok).toBe(false);
    expect(result.reasons).toEqual([
      '4 failed request(s), target 0 (blue TimeoutError: 2, green 503: 1, unresolved resolve: no answer: 1)',
      expect.stringMatching(/^step 1 \(25%\): observed 30\.1%.*target ±5 \(sampling standard error 2\.2 points\)$/),
      'step 1 (50%): no request in its settled window',
    ]);
  });
});

describe("verdict on the operators' Route53 calls", () => {
  const settled = { step: 0, share: 25, from: 0, to: 1, requests: 1, green: 1, failures: 0, observed: 25, difference: 0 };

  it('meets the target at the limit and misses it above, naming both figures', () => {
    expect(verdict([settled], [], 5, { perSecond: 1, max: 1 })).toEqual({ ok: true, reasons: [] });
    expect(verdict([settled], [], 5, { perSecond: 1.234, max: 1 })).toEqual({
      ok: false,
      reasons: ["the operators' Route53 calls 1.23/s over the cutover, target at most 1/s"],
    });
  });
});

describe('formatTable', () => {
  it("prints a row per step with the signed difference, and the operator's observed share when it had one", () => {
    const table = formatTable([
      { step: 2, share: 25, from: 0, to: 30_000, requests: 3000, green: 780, failures: 0, observed: 26, difference: 1 },
      {
        step: 4,
        share: 50,
        from: 0,
        to: 20_000,
        requests: 2000,
        green: 980,
        failures: 0,
        observed: 49,
        difference: -1,
        standardError: 1.1,
        operatorObserved: 48.4,
      },
    ]);
    expect(table.split('\n')[0]?.trim().split(/\s+/)).toEqual([
      'step',
      'configured',
      'observed',
      'difference',
      'se',
      'operator',
      'window',
      'requests',
      'failures',
    ]);
    expect(table.split('\n')[1]?.trim().split(/\s+/)).toEqual(['3', '25%', '26.0%', '+1.0', '-', '-', '30s', '3000', '0']);
    expect(table.split('\n')[2]?.trim().split(/\s+/)).toEqual(['5', '50%', '49.0%', '-1.0', '1.1', '48.4%', '20s', '2000', '0']);
  });
});

describe('describeRoute53Calls', () => {
  it('counts the calls in the window, per second, and what Route53 refused', () => {
    const calls = [
      { at: 500 },
      { at: 1000 },
      { at: 2000, refused: 'Throttling' },
      { at: 3000, refused: 'Throttling' },
      { at: 4000, refused: 'PriorRequestNotComplete' },
      { at: 11_000 },
    ];
    expect(describeRoute53Calls(calls, 1000, 11_000)).toBe('4 calls in 10s, 0.40/s; refused: 2 Throttling, 1 PriorRequestNotComplete');
    expect(describeRoute53Calls([], 0, 500)).toBe('0 calls in 1s, 0.00/s');
    expect(route53CallsPerSecond(calls, 1000, 11_000)).toBe(0.4);
    expect(route53CallsPerSecond(calls, 0, 600)).toBe(1); // a window under a second counts as one
  });
});
