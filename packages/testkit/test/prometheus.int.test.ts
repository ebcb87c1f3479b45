import { createServer } from 'node:http';
import { afterAll, expect, it } from '@jest/globals';
import { harnessEnv } from '../src/env.ts';
import { writePrometheusTargets } from '../src/harness/prometheus.ts';
import { waitUntil } from '../src/poll.ts';

const server = createServer((_request, response) => {
  response.setHeader('content-type', 'text/plain; version=0.0.4');
  response.end('# TYPE harness_probe gauge\nharness_probe 42\n');
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${harnessEnv('PROMETHEUS_URL')}/api/v1/query`, {
    method: 'POST',
    body: new URLSearchParams({ query: promql }),
  });
  const answer = (await response.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return answer.data.result;
}

it('scrapes a registered target every second with its labels, and stops when it is removed', async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const remove = writePrometheusTargets(harnessEnv('PROMETHEUS_TARGETS_DIR'), 'harness-probe', [
    { url: `http://127.0.0.1:${port}/metrics`, labels: { namespace: 'probe', pod: 'probe-0' } },
  ]);
  await waitUntil('the probe scraped', async () => (await query('harness_probe{namespace="probe"}')).length === 1, { timeoutMs: 30_000 });
  expect((await query('harness_probe{namespace="probe"}'))[0]).toMatchObject({
    metric: { __name__: 'harness_probe', namespace: 'probe', pod: 'probe-0', job: 'harness', instance: `127.0.0.1:${port}` },
    value: [expect.any(Number), '42'],
  });
  // At one scrape a second, a 5 s window holds several samples: what rate() over a short interval needs.
  await waitUntil(
    'several samples',
    async () => Number((await query('count_over_time(harness_probe{namespace="probe"}[5s])'))[0]?.value[1]) >= 3,
  );

  remove();
  await waitUntil('the target gone', async () => (await query('up{namespace="probe"}')).length === 0, { timeoutMs: 30_000 });
});
