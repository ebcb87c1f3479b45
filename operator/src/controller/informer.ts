import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
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
 * A cache of one kind, kept current by list + watch (client-node's ListWatch, which relists
 * on 410 Gone and reconnects a watch that timed out or went silent). On any other error
 * (the API server restarting, say) it starts over after a backoff, so an event missed
 * meanwhile is caught by the relist: nothing is lost for good.
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
}

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
  let synced = false;
  let markSynced: () => void = () => {};
  const firstList = new Promise<void>((resolve) => {
    markSynced = resolve;
  });
  // Items of a typed list come without apiVersion and kind; the cache holds whole objects.
  const listFn = async () => {
    const list = await client.request<{ items: KubeObject[]; metadata: { resourceVersion?: string } }>('GET', path, {
      query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
    });
    for (const item of list.items) {
      Object.assign(item, { apiVersion: type.apiVersion, kind: type.kind });
      transform(item);
    }
    synced = true;
    markSynced();
    return list;
  };
  // ListWatch's typings say Date where the JSON it really holds has strings; the cache is JSON.
  const watch = new ListWatch<KubernetesObject>(path, new Watch(kc), listFn as never, false, options.labelSelector, options.fieldSelector);
  const handlers: EventHandler<T>[] = [];
  let stopped = false;
  let failures = 0;
  const emit = (obj: KubernetesObject) => {
    transform(obj as unknown as KubeObject); // the cached object itself: it stays lean
    for (const handler of handlers) handler(obj as unknown as T);
  };
  for (const verb of ['add', 'update', 'delete'] as const) watch.on(verb, emit);
  watch.on('connect', () => {
    failures = 0;
  });
  watch.on('error', (err: unknown) => {
    if (stopped) return;
    const delay = restartDelayMs(failures);
    failures += 1;
    logger.warn(
      { err: err instanceof Error ? err.message : err, kind: type.kind, retryInMs: delay },
      'watch failed; relisting after a delay',
    );
    setTimeout(() => {
      if (!stopped) watch.start().catch(() => {}); // a failure lands in this same handler
    }, delay).unref();
  });

  return {
    type,
    get: (namespace, name) => watch.get(name, type.namespaced ? namespace : undefined) as T | undefined,
    list: (namespace) => watch.list(namespace) as unknown as readonly T[],
    onChange: (handler) => handlers.push(handler),
    async start() {
      // A failed first list is retried by the error handler; start() waits for a good one.
      await watch.start();
      await firstList;
    },
    async stop() {
      stopped = true;
      await watch.stop();
    },
    get synced() {
      return synced;
    },
  };
}
