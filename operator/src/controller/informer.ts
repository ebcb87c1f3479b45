import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.ts';
import { type KubeObject, type ResourceType, resourcePath } from '../kube/resources.ts';
import { type CacheTransform, stripManagedFields } from './transform.ts';

/**
 * What a cache holds: a kind's own typed shape (Reservation), or any object as JSON (KubeObject).
 * Only the name and namespace are read here.
 */
export interface CachedObject {
  metadata: { name: string; namespace?: string };
}

export type EventHandler<T extends CachedObject = KubeObject> = (obj: T) => void;

/**
 * A cache of one kind, kept current by list + watch (client-go's reflector): a watch resumes from
 * the last resourceVersion it saw; 410 Gone (that version is no longer served) relists; a watch
 * that timed out or went silent (client-node's `Watch`: 30 s without a byte) reconnects at once.
 * On any other error (the API server restarting, say) it starts over after a backoff, relisting,
 * so an event missed meanwhile is caught by the relist: nothing is lost for good.
 *
 * Written here rather than client-node's `ListWatch`, whose serializer pulls every generated
 * model of the Kubernetes API into the bundle (about 10 MB of the operator's RSS).
 */
export interface Informer<T extends CachedObject = KubeObject> {
  readonly type: ResourceType;
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): readonly T[];
  onChange(handler: EventHandler<T>): void;
  /** Resolves once the first list is in the cache. */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly synced: boolean;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** e.g. `metadata.name=booking`: one object (`kubectl reservation status -w`). */
  fieldSelector?: string;
  logger: Logger;
  /** Applied to each object as it enters the cache; by default managedFields are dropped. */
  transform?: CacheTransform;
  restartDelayMs?: (attempt: number) => number;
  /** Objects per page of a list (LIST_PAGE_SIZE by default). */
  listPageSize?: number;
}

/**
 * A list comes in pages of this many objects, as client-go's pager asks for them (500 there):
 * each page is parsed and put into the cache (lean, through the transform) before the next is
 * read. In one response, 3,000 Deployments are 20 MB of JSON, parsed whole while the other kinds'
 * lists arrive too: an operator restarted with 1,000 Reservations held 185 MB afterwards. In
 * pages of 500 it held 148-155 MB, of 100 132-134 MB, for a start about a second longer.
 */
export const LIST_PAGE_SIZE = 100;

/**
 * `T` is what the API server sends for `type`; the cache holds that JSON as is (the type is
 * the caller's word for it, as with client-go's typed informers over one kind).
 */
export function createInformer<T extends CachedObject = KubeObject>(
  kc: KubeConfig,
  client: KubeClient,
  type: ResourceType,
  options: InformerOptions,
): Informer<T> {
  const path = resourcePath(type, options.namespace);
  const { logger } = options;
  const transform = options.transform ?? stripManagedFields;
  const restartDelayMs = options.restartDelayMs ?? ((attempt: number) => Math.min(30_000, 500 * 2 ** attempt));
  const selectors = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };
  const listPageSize = options.listPageSize ?? LIST_PAGE_SIZE;
  const watcher = new Watch(kc);
  /** namespace ('' for cluster-scoped) → name → object. */
  const objects = new Map<string, Map<string, KubeObject>>();
  const handlers: EventHandler<T>[] = [];
  /** Where the next watch resumes; '' relists first. */
  let resourceVersion = '';
  let synced = false;
  let stopped = false;
  let running: Promise<void> | undefined;
  const stopping = new AbortController();
  let markSynced: () => void = () => {};
  const firstList = new Promise<void>((resolve) => {
    markSynced = resolve;
  });

  const emit = (obj: KubeObject) => {
    for (const handler of handlers) handler(obj as unknown as T);
  };
  const inNamespace = (obj: KubeObject) => {
    const namespace = obj.metadata.namespace ?? '';
    const names = objects.get(namespace);
    if (names) return names;
    const created = new Map<string, KubeObject>();
    objects.set(namespace, created);
    return created;
  };
  /** Items of a list and objects of watch events come without (list) or with their type: the cache holds whole objects. */
  const put = (obj: KubeObject) => {
    Object.assign(obj, { apiVersion: type.apiVersion, kind: type.kind });
    const names = inNamespace(obj);
    const before = names.get(obj.metadata.name);
    if (before && before.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    const kept = transform(obj); // before anything reads it: the cached object stays lean
    names.set(kept.metadata.name, kept);
    emit(kept);
  };
  const remove = (obj: KubeObject) => {
    const namespace = obj.metadata.namespace ?? '';
    const names = objects.get(namespace);
    const cached = names?.get(obj.metadata.name);
    if (!names || !cached) return;
    names.delete(obj.metadata.name);
    if (names.size === 0) objects.delete(namespace);
    emit(cached);
  };

  /**
   * The whole kind again, page by page: each page's objects are put as it arrives, then objects
   * gone since are removed (and their owners woken). The pages are one snapshot (the continue
   * token holds the first page's resourceVersion); one that expires mid-list is a 410, and the
   * caller lists again from the start.
   */
  async function relist(): Promise<void> {
    const keyOf = (obj: KubeObject) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const listed = new Set<string>();
    let listVersion = '';
    let next: string | undefined;
    do {
      const page = await client.request<{ items: KubeObject[]; metadata: { resourceVersion?: string; continue?: string } }>('GET', path, {
        query: { ...selectors, limit: listPageSize, continue: next },
        signal: stopping.signal,
      });
      for (const item of page.items) {
        listed.add(keyOf(item));
        put(item);
      }
      listVersion = page.metadata.resourceVersion ?? '';
      next = page.metadata.continue || undefined;
    } while (next);
    for (const names of [...objects.values()]) for (const obj of [...names.values()]) if (!listed.has(keyOf(obj))) remove(obj);
    resourceVersion = listVersion;
    synced = true;
    markSynced();
  }

  /** One watch from `resourceVersion`, until it ends; true if it saw an event. Throws its error. */
  async function watchOnce(): Promise<boolean> {
    let saw = false;
    let aborter: AbortController | undefined;
    const onStop = () => aborter?.abort();
    stopping.signal.addEventListener('abort', onStop);
    try {
      await new Promise<void>((resolve, reject) => {
        const onEvent = (phase: string, obj: KubeObject & { code?: number }) => {
          saw = true;
          if (phase === 'ERROR') {
            if (obj.code === 410) resourceVersion = ''; // the server ends the watch next
            return;
          }
          if (phase === 'ADDED' || phase === 'MODIFIED') put(obj);
          else if (phase === 'DELETED') remove(obj);
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion; // BOOKMARK: only this
        };
        watcher
          .watch(path, { ...selectors, resourceVersion, allowWatchBookmarks: true }, onEvent as never, (err: unknown) =>
            err ? reject(err) : resolve(),
          )
          .then((controller) => {
            aborter = controller;
            if (stopping.signal.aborted) controller.abort();
          }, reject);
      });
    } finally {
      stopping.signal.removeEventListener('abort', onStop);
    }
    return saw;
  }

  async function run(): Promise<void> {
    let failures = 0;
    let quietEnds = 0;
    while (!stopped) {
      try {
        if (!resourceVersion) await relist();
        const saw = await watchOnce();
        failures = 0;
        // A watch the server ended at once, again and again, is not reopened in a tight loop.
        quietEnds = saw ? 0 : quietEnds + 1;
        if (quietEnds > 1) await sleep(Math.min(30_000, 1000 * 2 ** (quietEnds - 2)), undefined, { signal: stopping.signal });
      } catch (err) {
        if (stopped) return;
        const status = (err as { statusCode?: number; status?: number }).statusCode ?? (err as { status?: number }).status;
        if (status === 410) {
          resourceVersion = '';
          continue;
        }
        if ((err as Error).name === 'TimeoutError') continue; // went silent: reconnect from where it was
        const delay = restartDelayMs(failures);
        failures += 1;
        logger.warn(
          { err: err instanceof Error ? err.message : err, kind: type.kind, retryInMs: delay },
          'watch failed; relisting after a delay',
        );
        resourceVersion = '';
        await sleep(delay, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  }

  return {
    type,
    get: (namespace, name) => objects.get(type.namespaced ? namespace : '')?.get(name) as T | undefined,
    list: (namespace) =>
      (!namespace
        ? [...objects.values()].flatMap((names) => [...names.values()])
        : [...(objects.get(namespace)?.values() ?? [])]) as unknown as readonly T[],
    onChange: (handler) => handlers.push(handler),
    async start() {
      // A failed first list is retried after a backoff; start() waits for a good one.
      running ??= run().catch(() => {}); // the sleeps' abort on stop
      await firstList;
    },
    async stop() {
      stopped = true;
      stopping.abort();
      await running;
    },
    get synced() {
      return synced;
    },
  };
}
