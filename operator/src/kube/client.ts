import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { timeoutSignal } from '@reservations/service-kit/timeout-signal';
import { fetch } from 'undici';
import { type KubeObject, resourcePath, resourceTypeOf } from './resources.ts';

/**
 * A thin JSON client for the Kubernetes API. The generated typed clients serialize through
 * their models and silently drop fields they don't know (CRD schema extensions, fields newer
 * than the client), which is wrong for server-side apply; this sends and returns JSON as is.
 * Authentication and TLS come from the KubeConfig, as for the typed clients.
 */

/** The API server refused a request; `status`, `reason` and `message` come from its Status. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.status === 409;

export const PATCH = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Aborts the request (a reconcile past its deadline); the per-request timeout applies as well. */
  signal?: AbortSignal;
}

export interface KubeClient {
  request<T = unknown>(method: keyof typeof HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  /** Server-side apply of `obj` (or of its status) as `fieldManager`, taking over conflicting fields. */
  apply<T extends KubeObject>(
    obj: KubeObject,
    fieldManager: string,
    options?: { subresource?: 'status'; signal?: AbortSignal },
  ): Promise<T>;
  /** The requests in flight that were given `signal`, as `METHOD path (N s so far)`: what a reconcile past its deadline still waits on. */
  waitingOn(signal: AbortSignal): string[];
  /** Deletes an object; true if it was there. */
  remove(
    obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>,
    options?: { propagationPolicy?: 'Background' | 'Foreground'; signal?: AbortSignal },
  ): Promise<boolean>;
}

/** Sees every request's method, HTTP status (or 0 when no answer came) and duration, for metrics. */
export type RequestObserver = (method: string, status: number, seconds: number) => void;

/**
 * How long a request may wait for its answer. A connection that died without a reset (a
 * half-open path) would otherwise hold a reconcile for undici's 300 s; failing sooner lets the
 * retry take a fresh connection (what HTTP/2 pings do for client-go).
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export function createKubeClient(kc: KubeConfig, observe: RequestObserver = () => {}, timeoutMs = REQUEST_TIMEOUT_MS): KubeClient {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig: no current cluster');
  // client-node makes a new connection pool (undici Agent) for every request it authenticates:
  // a TLS handshake per request, and idle sockets piling up. One pool serves every request;
  // authentication still runs per request, for credentials that rotate.
  let dispatcher: ReturnType<RequestContext['getDispatcher']>;
  /** Requests in flight with a caller's signal. */
  const inFlight = new Set<{ method: string; path: string; signal: AbortSignal; started: number }>();

  /** Sends a request, known as in flight (for `waitingOn`) from the call on, its authentication included. */
  async function request<T>(method: keyof typeof HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const { signal } = options;
    if (!signal) return send<T>(method, path, options);
    const pending = { method, path, signal, started: performance.now() };
    inFlight.add(pending);
    try {
      return await send<T>(method, path, options);
    } finally {
      inFlight.delete(pending);
    }
  }

  async function send<T>(method: keyof typeof HttpMethod, path: string, { body, contentType, query, signal }: RequestOptions): Promise<T> {
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await kc.applySecurityAuthentication(ctx);
    // The user agent names the default field manager of plain writes (Leases, Events).
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'reservation-operator', ...ctx.getHeaders() };
    if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
    dispatcher ??= ctx.getDispatcher();
    const call = timeoutSignal(timeoutMs, signal);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let response: Awaited<ReturnType<typeof fetch>>;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher,
        signal: call.signal,
      });
      text = await response.text();
    } catch (err) {
      observe(method, 0, seconds());
      // The caller's own abort comes out as its reason, as is.
      if (call.timedOut) throw new Error(`${method} ${path}: no answer from the API server in ${timeoutMs / 1000} s`, { cause: err });
      throw err;
    } finally {
      call.clear();
    }
    observe(method, response.status, seconds());
    if (!response.ok) {
      let status: { reason?: string; message?: string } = {};
      try {
        status = JSON.parse(text) as typeof status;
      } catch {
        // not a Status (a proxy in between, say): keep the raw text
      }
      throw new KubeApiError(
        response.status,
        status.reason ?? response.statusText,
        status.message ?? `${method} ${path}: ${response.status} ${text}`,
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  return {
    request,
    waitingOn(signal) {
      const now = performance.now();
      return [...inFlight]
        .filter((r) => r.signal === signal)
        .map((r) => `${r.method} ${r.path} (${((now - r.started) / 1000).toFixed(1)} s so far)`);
    },
    apply<T extends KubeObject>(
      obj: KubeObject,
      fieldManager: string,
      { subresource, signal }: { subresource?: 'status'; signal?: AbortSignal } = {},
    ) {
      const path = resourcePath(resourceTypeOf(obj), obj.metadata.namespace, obj.metadata.name) + (subresource ? `/${subresource}` : '');
      return request<T>('PATCH', path, { body: obj, contentType: PATCH.apply, query: { fieldManager, force: true }, signal });
    },
    async remove(obj, { propagationPolicy = 'Background', signal } = {}) {
      try {
        await request('DELETE', resourcePath(resourceTypeOf(obj), obj.metadata.namespace, obj.metadata.name), {
          body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
          signal,
        });
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
  };
}
