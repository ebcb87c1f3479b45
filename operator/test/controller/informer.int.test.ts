import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createInformer } from '../../src/controller/informer.ts';
import { createKubeClient, type KubeClient } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { createTestNamespace, testKubeConfig } from '../support/kube.ts';

const kc = testKubeConfig();
const raw = createKubeClient(kc);
let namespace: string;

/** The informer's client, keeping the query of each list it asks for. */
function recordingLists(lists: Record<string, unknown>[]): KubeClient {
  return {
    ...raw,
    request: (method, path, options) => {
      if (method === 'GET') lists.push({ ...options?.query });
      return raw.request(method, path, options);
    },
  };
}

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'informer');
  for (let i = 0; i < 5; i++) {
    await raw.request('POST', resourcePath(RESOURCE_TYPES.ConfigMap, namespace), {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `paged-${i}`, labels: { set: 'paged' } }, data: { i: String(i) } },
    });
  }
});

afterAll(async () => {
  await raw.request('DELETE', `/api/v1/namespaces/${namespace}`).catch(() => {});
});

describe('informer', () => {
  it('lists a kind in pages, each after the one before by its continue token, and caches every object', async () => {
    const lists: Record<string, unknown>[] = [];
    const informer = createInformer(kc, recordingLists(lists), RESOURCE_TYPES.ConfigMap, {
      namespace,
      labelSelector: 'set=paged',
      logger: pino({ level: 'silent' }),
      listPageSize: 2,
    });
    await informer.start();
    try {
      expect(informer.list(namespace).map((o) => o.metadata.name)).toEqual(['paged-0', 'paged-1', 'paged-2', 'paged-3', 'paged-4']);
      // Three pages of at most two, the first without a token and each next with the one before's.
      expect(lists).toHaveLength(3);
      expect(lists.map((q) => [q.limit, q.labelSelector, typeof q.continue])).toEqual([
        [2, 'set=paged', 'undefined'],
        [2, 'set=paged', 'string'],
        [2, 'set=paged', 'string'],
      ]);
      expect(lists[1]?.continue).not.toBe(lists[2]?.continue);
    } finally {
      await informer.stop();
    }
  });
});
