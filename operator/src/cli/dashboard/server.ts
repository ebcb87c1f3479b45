import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Reservation } from '../../api/v1alpha1/reservation.ts';
import { createInformer, type Informer } from '../../controller/informer.ts';
import { createKubeClient, KubeApiError } from '../../kube/client.ts';
import { RESOURCE_TYPES } from '../../kube/resources.ts';
import { iso } from '../../kube/time.ts';
import { isCutoverVerb } from '../../traffic/verbs.ts';
import { DEFAULT_POD_START_SECONDS, DEFAULT_ROUTE53_SYNC_SECONDS } from '../args.ts';
import { cutoverView } from '../cutover-view.ts';
import type { Target } from '../kubeconfig.ts';
import { PlanFileError, planFromText, previewReservation } from '../plan.ts';
import { verbEffect } from '../render.ts';
import { readReservation, requestVerb, SteerError, startCutover } from '../steer.ts';
import {
  appendPoint,
  type ClusterState,
  clusterFigures,
  type DashboardState,
  type HistoryEntry,
  mergeHistory,
  type PrometheusState,
  type TimelinePoint,
  timelinePoint,
} from './model.ts';
import { queryPrometheus } from './prometheus.ts';

/**
 * `kubectl reservation dashboard`'s server: the page (static files built by
 * operator/build-dashboard.ts), its JSON and a stream of server-sent events, on 127.0.0.1 by
 * default. It watches one Reservation on each cluster with the user's own kube credentials
 * and polls Prometheus; the buttons ask for verbs through steer.ts, as the plugin does.
 *
 * Guarded against other web pages in the same browser: every request must name this server in
 * its Host header (no DNS rebinding), every /api call carries the per-start token that only the
 * page served here knows, and a POST must come from this origin.
 */

export interface DashboardOptions {
  name: string;
  /** One per kubeconfig context, in the order shown. */
  clusters: Target[];
  prometheusUrl?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Where app.js, app.css and index.html are (operator/dist/dashboard). */
  staticDir: string;
  /** How often each cluster is read besides its watch (it says when a cluster stops answering), and Prometheus queried. */
  pollMs?: number;
  /** The timeout of each read of a cluster. */
  readTimeoutMs?: number;
  /** The plan preview's timing facts (`kubectl reservation plan`'s --route53-sync and --pod-start). */
  route53SyncSeconds?: number;
  podStartSeconds?: number;
  warn?: (message: string) => void;
}

export interface Dashboard {
  url: string;
  token: string;
  stop(): Promise<void>;
}

interface ClusterWatch {
  target: Target;
  state: ClusterState;
  cr?: Reservation;
  informer: Informer<Reservation>;
  history: HistoryEntry[];
}

const STATIC: Record<string, string> = {
  '/app.js': 'text/javascript; charset=utf-8',
  '/app.css': 'text/css; charset=utf-8',
};

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { name } = options;
  const namespace = options.clusters[0]?.namespace ?? 'default';
  const host = options.host ?? '127.0.0.1';
  const pollMs = options.pollMs ?? 1000;
  const readTimeoutMs = options.readTimeoutMs ?? 2000;
  const token = randomBytes(24).toString('base64url');
  const page = readFileSync(join(options.staticDir, 'index.html'), 'utf8');
  const assets = new Map(Object.keys(STATIC).map((path) => [path, readFileSync(join(options.staticDir, path.slice(1)))]));
  const silent = pino({ level: 'silent' });

  const watches: ClusterWatch[] = options.clusters.map((target) => ({
    target,
    state: { context: target.context, reachable: false, error: 'not read yet' },
    informer: createInformer<Reservation>(target.kc, target.client, RESOURCE_TYPES.Reservation, {
      namespace: target.namespace,
      fieldSelector: `metadata.name=${name}`,
      logger: silent,
      // A cluster that comes back is watched again within seconds (reads say it answers meanwhile).
      restartDelayMs: (attempt) => Math.min(2000, 250 * 2 ** attempt),
    }),
    history: [],
  }));
  let prometheus: PrometheusState = options.prometheusUrl
    ? { url: options.prometheusUrl, reachable: false, error: 'not queried yet', clusters: {} }
    : { reachable: false, error: 'no --prometheus URL given', clusters: {} };
  let points: TimelinePoint[] = [];
  const streams = new Set<ServerResponse>();

  const buildState = (now: Date): DashboardState => ({
    namespace,
    name,
    generatedAt: iso(now),
    clusters: watches.map((w) => {
      const peer = watches.find((other) => other !== w)?.cr;
      return { ...w.state, view: w.cr && cutoverView(w.cr, peer, now) };
    }),
    prometheus,
  });

  const historyOf = () => Object.fromEntries(watches.map((w) => [w.target.context, w.history]));

  /** Pushes the state to every page now; `tick` adds the moment to the chart. */
  const publish = (tick = false) => {
    const now = new Date();
    const state = buildState(now);
    for (const w of watches) {
      const entries = state.clusters.find((c) => c.context === w.target.context)?.view?.cutover?.history;
      if (entries) w.history = mergeHistory(w.history, entries);
    }
    const point = timelinePoint(state, now.getTime());
    if (tick) points = appendPoint(points, point);
    const data = JSON.stringify({ state, point: tick ? point : undefined, history: historyOf() });
    for (const stream of streams) stream.write(`event: state\ndata: ${data}\n\n`);
  };

  const update = (w: ClusterWatch, next: Partial<ClusterState> & { cr?: Reservation | null }) => {
    const before = JSON.stringify([w.state, w.cr?.metadata.resourceVersion]);
    if (next.cr !== undefined) w.cr = next.cr ?? undefined;
    const { cr: _, ...state } = next;
    w.state = {
      context: w.target.context,
      reachable: state.reachable ?? w.state.reachable,
      error: state.error,
      lastAnsweredAt: w.state.lastAnsweredAt,
    };
    if (w.state.reachable) w.state.lastAnsweredAt = iso(new Date());
    if (JSON.stringify([w.state, w.cr?.metadata.resourceVersion]) !== before) publish();
  };

  for (const w of watches) {
    w.informer.onChange(() => {
      const cr = w.informer.get(w.target.namespace, name);
      const missing = `Reservation "${name}" not found in namespace "${w.target.namespace}"`;
      update(w, { reachable: true, error: cr ? undefined : missing, cr: cr ?? null });
    });
    w.informer.start().catch(() => {});
  }

  // Reads besides the watches: a watch can stay open on a cluster that no longer answers.
  const readers = watches.map((w) => ({ w, client: createKubeClient(w.target.kc, () => {}, readTimeoutMs) }));
  let reading = false;
  const readAll = async () => {
    if (reading) return;
    reading = true;
    try {
      await Promise.all(
        readers.map(async ({ w, client }) => {
          try {
            const cr = await readReservation({ client, namespace: w.target.namespace, name });
            // The watch may be ahead; never step back to an older version.
            const newer = !w.cr || Number(cr.metadata.resourceVersion) >= Number(w.cr.metadata.resourceVersion);
            update(w, { reachable: true, error: undefined, ...(newer ? { cr } : {}) });
          } catch (err) {
            if (err instanceof SteerError) update(w, { reachable: true, error: err.message, cr: null });
            else update(w, { reachable: false, error: `cannot reach ${w.target.context}: ${describe(err)}` });
          }
        }),
      );
    } finally {
      reading = false;
    }
  };

  let querying = false;
  const queryAll = async () => {
    if (!options.prometheusUrl || querying) return;
    querying = true;
    try {
      const answers = await queryPrometheus(options.prometheusUrl, readTimeoutMs);
      const state = buildState(new Date());
      prometheus = {
        url: options.prometheusUrl,
        reachable: true,
        checkedAt: iso(new Date()),
        clusters: clusterFigures(answers, state.clusters),
      };
    } catch (err) {
      prometheus = {
        url: options.prometheusUrl,
        reachable: false,
        error: `cannot reach Prometheus: ${describe(err)}`,
        checkedAt: iso(new Date()),
        clusters: {},
      };
    } finally {
      querying = false;
    }
  };

  const timer = setInterval(() => {
    void Promise.all([readAll(), queryAll()]).then(() => publish(true));
  }, pollMs);
  void Promise.all([readAll(), queryAll()]).then(() => publish(true));

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) problem(res, 500, 'dashboard error', describe(err));
      else res.end();
    });
  });

  let origins = new Set<string>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostHeader = req.headers.host ?? '';
    if (!origins.has(`http://${hostHeader}`)) {
      return problem(res, 403, 'wrong host', `this dashboard answers on ${[...origins].join(', ')} only, not Host "${hostHeader}"`);
    }
    const url = new URL(req.url ?? '/', `http://${hostHeader}`);
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
      res.end(page.replace('%TOKEN%', token));
      return;
    }
    const asset = assets.get(url.pathname);
    if (req.method === 'GET' && asset) {
      res.writeHead(200, { 'content-type': STATIC[url.pathname] ?? 'application/octet-stream', ...SECURITY_HEADERS });
      res.end(asset);
      return;
    }
    if (!url.pathname.startsWith('/api/')) return problem(res, 404, 'not found', `nothing at ${url.pathname}`);
    const given = req.headers['x-dashboard-token'] ?? url.searchParams.get('token') ?? '';
    if (!sameSecret(String(given), token)) {
      return problem(res, 403, 'no token', 'the dashboard token is missing or wrong: open the dashboard from the URL the plugin printed');
    }
    if (req.method === 'GET' && url.pathname === '/api/state') {
      return json(res, 200, { state: buildState(new Date()), points, history: historyOf() });
    }
    if (req.method === 'GET' && url.pathname === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      streams.add(res);
      req.on('close', () => streams.delete(res));
      publish();
      return;
    }
    const previewPath = /^\/api\/clusters\/([^/]+)\/plan-preview$/.exec(url.pathname);
    if (req.method === 'GET' && previewPath) return planPreview(res, decodeURIComponent(previewPath[1] ?? ''), undefined);
    if (req.method !== 'POST') return problem(res, 405, 'method not allowed', `${req.method} ${url.pathname}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      return problem(res, 403, 'wrong origin', `a request from ${origin} cannot steer this dashboard`);
    }
    if (previewPath) {
      const body = await readJson(req);
      if (!body.ok) return problem(res, 400, 'bad plan', body.error);
      return planPreview(res, decodeURIComponent(previewPath[1] ?? ''), body.value);
    }
    const match = /^\/api\/clusters\/([^/]+)\/(verbs\/([^/]+)|cutover)$/.exec(url.pathname);
    const w = match && watches.find((x) => x.target.context === decodeURIComponent(match[1] ?? ''));
    if (!match || !w) return problem(res, 404, 'not found', `no cluster "${decodeURIComponent(match?.[1] ?? '')}" in this dashboard`);
    const ref = { client: w.target.client, namespace: w.target.namespace, name };
    try {
      if (match[3] !== undefined) {
        const verb = decodeURIComponent(match[3]);
        if (!isCutoverVerb(verb))
          return problem(res, 400, 'unknown verb', `verb: "${verb}" is not one of pause, resume, promote, promote-full, abort, retry`);
        const asked = await requestVerb(ref, verb);
        void readAll();
        return json(res, 202, {
          verb,
          request: asked.value,
          replaced: asked.replaced,
          effect: `the operator will ${verbEffect(verb, asked.cr)}`,
        });
      }
      const body = await readJson(req);
      if (!body.ok) return problem(res, 400, 'bad plan', body.error);
      await startCutover(ref, body.value, w.target.context);
      void readAll();
      return json(res, 202, { started: true });
    } catch (err) {
      if (err instanceof SteerError) return problem(res, err.kind === 'refused' ? 409 : 404, err.kind, err.message);
      // The API server's own refusals (RBAC 403, the CRD's validation 422, a conflict 409) say why.
      if (err instanceof KubeApiError && err.status >= 400 && err.status < 500) return problem(res, err.status, err.reason, err.message);
      throw err;
    }
  }

  /**
   * The preview of a cluster's plan: its spec's, or `plan` (a spec.traffic.cutover not applied
   * yet) on its spec.traffic; the other cluster's Reservation is the peer. What
   * `kubectl reservation plan -o json` prints.
   */
  async function planPreview(res: ServerResponse, context: string, plan: unknown): Promise<void> {
    const w = watches.find((x) => x.target.context === context);
    if (!w) return problem(res, 404, 'not found', `no cluster "${context}" in this dashboard`);
    if (!w.cr) return problem(res, 404, 'not found', `${context}: Reservation "${name}" not read yet`);
    const other = watches.find((x) => x !== w);
    let subject = w.cr;
    try {
      if (plan !== undefined) subject = planFromText(JSON.stringify(plan), 'plan', w.cr);
    } catch (err) {
      if (err instanceof PlanFileError) return problem(res, 400, 'bad plan', err.message);
      throw err;
    }
    if (!subject.spec.traffic?.cutover) return problem(res, 404, 'no plan', `${context}: ${name} has no spec.traffic.cutover to preview`);
    const preview = await previewReservation(subject, other?.cr, {
      route53SyncSeconds: options.route53SyncSeconds ?? DEFAULT_ROUTE53_SYNC_SECONDS,
      podStartSeconds: options.podStartSeconds ?? DEFAULT_POD_START_SECONDS,
      ...(options.prometheusUrl ? { prometheusUrl: options.prometheusUrl } : {}),
      selfNames: [context],
      peerNames: other ? [other.target.context] : [],
    });
    return json(res, 200, preview);
  }

  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const hosts = host === '127.0.0.1' || host === 'localhost' ? ['127.0.0.1', 'localhost'] : [host];
  origins = new Set(hosts.map((h) => `http://${h.includes(':') ? `[${h}]` : h}:${port}`));
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    token,
    async stop() {
      clearInterval(timer);
      for (const stream of streams) stream.end();
      await Promise.all(watches.map((w) => w.informer.stop()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// The page frames nothing and is framed by nobody (no clickjacking of the buttons); scripts only from here.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

const MAX_BODY = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return { ok: false, error: `plan: more than ${MAX_BODY / 1024} KiB` };
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, error: 'plan: must be a JSON object (spec.traffic.cutover)' };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: `plan: not JSON: ${(err as Error).message}` };
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
