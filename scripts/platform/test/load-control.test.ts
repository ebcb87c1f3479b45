import { afterEach, describe, expect, it } from '@jest/globals';
import type { RequestRecord } from '../../cutover-sim/accounting.ts';
import { type ControlledLoad, loadCounters, parseRateRequest, startLoadControl } from '../load-control.ts';

describe('parseRateRequest', () => {
  it('reads rate=N from a form (curl -d) and {"rate": N} from JSON', () => {
    expect(parseRateRequest('rate=100', 'application/x-www-form-urlencoded')).toEqual({ rate: 100 });
    expect(parseRateRequest('rate=12.5', undefined)).toEqual({ rate: 12.5 });
    expect(parseRateRequest('{"rate": 75}', 'application/json; charset=utf-8')).toEqual({ rate: 75 });
  });

  it('refuses a missing, zero, negative, too large or non-numeric rate, naming the field', () => {
    for (const [body, type] of [
      ['', undefined],
      ['speed=10', undefined],
      ['rate=0', undefined],
      ['rate=-5', undefined],
      ['rate=5001', undefined],
      ['rate=fast', undefined],
      ['{"rate": "x"}', 'application/json'],
      ['{}', 'application/json'],
    ] as const) {
      const parsed = parseRateRequest(body, type);
      expect(parsed).toEqual({ problem: expect.objectContaining({ status: 400, detail: expect.stringContaining('rate') }) });
    }
    expect(parseRateRequest('{nope', 'application/json')).toEqual({
      problem: expect.objectContaining({ detail: expect.stringContaining('not JSON') }),
    });
  });
});

describe('loadCounters', () => {
  it('counts requests, failures (no answer or a 5xx) and refusals (a 4xx) per cluster, and exposes them for Prometheus', async () => {
    const counters = loadCounters();
    const records: RequestRecord[] = [
      { at: 1, stack: 'blue', client: 0, status: 201, latencyMs: 3 },
      { at: 2, stack: 'blue', client: 1, status: 503, latencyMs: 3 },
      { at: 3, stack: 'green', client: 2, status: 200, latencyMs: 3 },
      { at: 4, stack: 'green', client: 2, error: 'ECONNREFUSED', latencyMs: 3 },
      { at: 5, client: 3, error: 'resolve: nxDomain', latencyMs: 3 },
      { at: 6, stack: 'green', client: 2, status: 404, latencyMs: 3 },
    ];
    for (const r of records) counters.onRecord(r);
    expect(counters.counts()).toEqual({
      requests: 6,
      failures: 3,
      refused: 1,
      byCluster: { blue: { requests: 2, failures: 1 }, green: { requests: 3, failures: 1 }, none: { requests: 1, failures: 1 } },
    });
    const text = await counters.registry.metrics();
    expect(text).toContain('playground_load_requests_total{cluster="blue",outcome="failed"} 1');
    expect(text).toContain('playground_load_requests_total{cluster="green",outcome="ok"} 1');
    expect(text).toContain('playground_load_requests_total{cluster="none",outcome="failed"} 1');
    expect(text).toContain('playground_load_requests_total{cluster="green",outcome="refused"} 1');
  });
});

describe('startLoadControl, over HTTP', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  /** The control's view of a load: what startLoad returns, without its clients. */
  function recordedLoad(records: RequestRecord[]): ControlledLoad {
    let rate = 50;
    return { records, rate: () => rate, setRate: (r) => (rate = r) };
  }

  it('says what the load does, changes its rate, and hands over the records since a time', async () => {
    const records: RequestRecord[] = [
      { at: 1000, stack: 'blue', client: 0, status: 201, latencyMs: 3 },
      { at: 2000, stack: 'green', client: 1, status: 200, latencyMs: 3 },
    ];
    const counters = loadCounters();
    for (const r of records) counters.onRecord(r);
    const load = recordedLoad(records);
    const control = await startLoadControl(load, counters, 200);
    stop = control.stop;

    expect(await (await fetch(`${control.url}/load`)).json()).toEqual({
      rate: 50,
      clients: 200,
      requests: 2,
      failures: 0,
      refused: 0,
      byCluster: { blue: { requests: 1, failures: 0 }, green: { requests: 1, failures: 0 } },
    });
    const changed = await fetch(`${control.url}/load`, { method: 'PUT', body: new URLSearchParams({ rate: '120' }) });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { rate: number }).rate).toBe(120);
    expect(load.rate()).toBe(120);
    expect(await (await fetch(`${control.url}/metrics`)).text()).toContain('playground_load_rate 120');
    expect(await (await fetch(`${control.url}/records?since=1500`)).json()).toEqual([records[1]]);
  });

  it('refuses a bad rate with problem+json naming the field, and leaves the rate as it was', async () => {
    const load = recordedLoad([]);
    const control = await startLoadControl(load, loadCounters(), 10);
    stop = control.stop;
    const refused = await fetch(`${control.url}/load`, {
      method: 'PUT',
      body: 'rate=0',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/^rate must be/);
    expect(load.rate()).toBe(50);
    const unknown = await fetch(`${control.url}/nothing`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { detail: string }).detail).toContain('PUT /load');
  });
});
