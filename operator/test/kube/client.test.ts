import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient } from '../../src/kube/client.ts';

// A real listener on loopback that takes connections and never answers: a half-dead path.
const held: Socket[] = [];
const silent = createServer((socket) => {
  held.push(socket);
});
let port = 0;
beforeAll(async () => {
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  port = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  silent.close();
  await once(silent, 'close');
});

function silentConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'silent', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'silent', cluster: 'silent', user: 'nobody' }],
    currentContext: 'silent',
  });
  return kc;
}

it('fails a request that gets no answer after its timeout, saying so, and counts it as unanswered', async () => {
  const kc = silentConfig();
  const seen: [string, number][] = [];
  const client = createKubeClient(kc, (method, status) => seen.push([method, status]), 300);

  await expect(client.request('GET', '/api/v1/namespaces')).rejects.toThrow(
    'GET /api/v1/namespaces: no answer from the API server in 0.3 s',
  );
  expect(seen).toEqual([['GET', 0]]);
  expect(held.length).toBeGreaterThan(0); // it did connect: the answer is what never came
});

it("gives up a request when the caller's signal aborts, with the caller's reason, before its own timeout", async () => {
  const kc = silentConfig();
  const client = createKubeClient(kc, () => {}, 30_000);
  const abort = new AbortController();
  const answer = client.request('GET', '/api/v1/namespaces', { signal: abort.signal });
  abort.abort(new Error('reconcile took longer than 60000 ms'));
  await expect(answer).rejects.toThrow('reconcile took longer than 60000 ms');
});

it("names the requests still in flight with a caller's signal, and only those, until they end", async () => {
  const client = createKubeClient(silentConfig(), () => {}, 30_000);
  const mine = new AbortController();
  const other = new AbortController();
  const answers = [
    client.request('GET', '/api/v1/namespaces/shop/configmaps/a', { signal: mine.signal }),
    client.request('PATCH', '/apis/apps/v1/namespaces/shop/deployments/b', { signal: mine.signal, body: {} }),
    client.request('GET', '/api/v1/namespaces/other', { signal: other.signal }),
  ].map((p) => p.catch((err: Error) => err));
  expect(client.waitingOn(mine.signal)).toEqual([
    expect.stringMatching(/^GET \/api\/v1\/namespaces\/shop\/configmaps\/a \(\d+\.\d s so far\)$/),
    expect.stringMatching(/^PATCH \/apis\/apps\/v1\/namespaces\/shop\/deployments\/b \(\d+\.\d s so far\)$/),
  ]);
  mine.abort(new Error('past its deadline'));
  other.abort(new Error('stopped'));
  await Promise.all(answers);
  expect(client.waitingOn(mine.signal)).toEqual([]);
  expect(client.waitingOn(other.signal)).toEqual([]);
});

// A token and the system's CAs: client-node makes no connection pool of its own then.
it('also sends a request when the kubeconfig has no TLS settings of its own (client-node then makes no dispatcher)', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const closedPort = (closed.address() as { port: number }).port;
  closed.close();
  await once(closed, 'close');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'gone', server: `https://127.0.0.1:${closedPort}` }],
    users: [{ name: 'bearer', token: 'abc' }],
    contexts: [{ name: 'gone', cluster: 'gone', user: 'bearer' }],
    currentContext: 'gone',
  });
  const seen: [string, number][] = [];
  const client = createKubeClient(kc, (method, status) => seen.push([method, status]));
  // It went out on the network: the refusal comes from the port, not from the client.
  await expect(client.request('GET', '/api/v1/namespaces')).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  expect(seen).toEqual([['GET', 0]]);
});
