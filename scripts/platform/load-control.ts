/**
 * The playground's load, steered over HTTP on 127.0.0.1: `GET /load` says what it does,
 * `PUT /load` with `rate=N` (a form, as `curl -d` sends, or JSON) changes its rate while it runs,
 * `GET /metrics` counts its requests per cluster and outcome for Prometheus, and
 * `GET /records?since=MS` hands over each request it made (for the playground's test, which
 * computes the share each cluster got per cutover step).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { isFailure, type RequestRecord } from '../cutover-sim/accounting.ts';

/** The rate's bounds, requests per second over all clients. */
export const MAX_RATE = 5000;

/** A problem+json body (RFC 9457) for a refused request. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/**
 * The new rate from a PUT /load body (pure): `rate=100` (form) or `{"rate": 100}` (JSON); a
 * problem naming the field otherwise.
 */
export function parseRateRequest(body: string, contentType: string | undefined): { rate: number } | { problem: Problem } {
  const problem = (detail: string) => ({ problem: { type: 'about:blank', title: 'Bad Request', status: 400, detail } });
  let value: unknown;
  if (contentType?.startsWith('application/json')) {
    try {
      value = (JSON.parse(body) as { rate?: unknown } | null)?.rate;
    } catch {
      return problem('the body is not JSON; send {"rate": N} or the form rate=N');
    }
  } else {
    value = new URLSearchParams(body).get('rate') ?? undefined;
  }
  if (value === undefined || value === null || value === '') return problem('rate is missing: send rate=N, requests per second');
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate <= 0 || rate > MAX_RATE) {
    return problem(`rate must be requests per second, more than 0 and at most ${MAX_RATE}, not "${String(value)}"`);
  }
  return { rate };
}

/** What the load controls: the running load (cutover-sim/load.ts's startLoad). */
export interface ControlledLoad {
  records: readonly RequestRecord[];
  rate(): number;
  setRate(rate: number): void;
}

export interface LoadCounts {
  requests: number;
  /** No answer (or the name did not resolve), or a 5xx. */
  failures: number;
  /** A 4xx: the request was answered and refused (none is expected: no two requests conflict). */
  refused: number;
  byCluster: Record<string, { requests: number; failures: number }>;
}

/** Counters fed by every request's record (`onRecord`), for /load and /metrics. */
export function loadCounters() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'playground_load_requests_total',
    help: "The playground load's requests, by the cluster that got them (none: the name did not resolve) and outcome (failed: no answer or a 5xx; refused: a 4xx)",
    labelNames: ['cluster', 'outcome'] as const,
    registers: [registry],
  });
  const rate = new Gauge({
    name: 'playground_load_rate',
    help: 'The rate the load is asked for, requests per second',
    registers: [registry],
  });
  const counts: LoadCounts = { requests: 0, failures: 0, refused: 0, byCluster: {} };
  return {
    registry,
    counts: (): LoadCounts => structuredClone(counts),
    setRate: (value: number) => rate.set(value),
    onRecord(record: RequestRecord): void {
      const cluster = record.stack ?? 'none';
      const failed = isFailure(record);
      const refused = !failed && (record.status ?? 0) >= 400;
      requests.inc({ cluster, outcome: failed ? 'failed' : refused ? 'refused' : 'ok' });
      if (refused) counts.refused += 1;
      const c = counts.byCluster[cluster] ?? { requests: 0, failures: 0 };
      counts.byCluster[cluster] = c;
      counts.requests += 1;
      c.requests += 1;
      if (failed) {
        counts.failures += 1;
        c.failures += 1;
      }
    },
  };
}

const MAX_BODY = 4096;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** Serves the control on 127.0.0.1:`port` (0: a free one). */
export async function startLoadControl(load: ControlledLoad, counters: ReturnType<typeof loadCounters>, clients: number, port = 0) {
  counters.setRate(load.rate());
  const json = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(JSON.stringify(body));
  };
  const state = () => ({ rate: load.rate(), clients, ...counters.counts() });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    try {
      if (url.pathname === '/load' && req.method === 'GET') return json(res, 200, state());
      if (url.pathname === '/load' && req.method === 'PUT') {
        const parsed = parseRateRequest(await readBody(req), req.headers['content-type']);
        if ('problem' in parsed) return json(res, 400, parsed.problem, 'application/problem+json');
        load.setRate(parsed.rate);
        counters.setRate(parsed.rate);
        return json(res, 200, state());
      }
      if (url.pathname === '/metrics' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': counters.registry.contentType });
        return res.end(await counters.registry.metrics());
      }
      if (url.pathname === '/records' && req.method === 'GET') {
        const since = Number(url.searchParams.get('since') ?? 0);
        if (!Number.isFinite(since)) {
          return json(
            res,
            400,
            { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'since must be milliseconds since the epoch' },
            'application/problem+json',
          );
        }
        return json(
          res,
          200,
          load.records.filter((r) => r.at >= since),
        );
      }
      return json(
        res,
        404,
        {
          type: 'about:blank',
          title: 'Not Found',
          status: 404,
          detail: 'GET /load, PUT /load (rate=N), GET /metrics, GET /records?since=MS',
        },
        'application/problem+json',
      );
    } catch (err) {
      return json(
        res,
        400,
        { type: 'about:blank', title: 'Bad Request', status: 400, detail: (err as Error).message },
        'application/problem+json',
      );
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
