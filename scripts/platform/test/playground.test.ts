import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { describeRoute53 } from '../../cutover-sim/settings.ts';
import { PLAYGROUND_DEFAULTS, playgroundSettings, playgroundSummary, SAMPLE_CUTOVER } from '../playground.ts';
import { mergedKubeconfig } from '../two-clusters.ts';

describe('playgroundSettings', () => {
  it('has modest defaults: 50 req/s over 200 clients, a 5 s TTL', () => {
    expect(playgroundSettings({})).toEqual(PLAYGROUND_DEFAULTS);
    expect(PLAYGROUND_DEFAULTS).toMatchObject({ rate: 50, clients: 200, ttlSeconds: 5 });
  });

  it('reads the knobs, and refuses bad values naming every variable', () => {
    expect(
      playgroundSettings({
        PLAYGROUND_RATE: '120',
        PLAYGROUND_TTL: '10',
        PLAYGROUND_CLIENTS: '50',
        PLAYGROUND_LOAD_PORT: '8089',
        PLAYGROUND_CONSOLE_PORT: '0',
        PLAYGROUND_ROUTE53_INSYNC: '30-60',
        PLAYGROUND_ROUTE53_RATE: '5',
      }),
    ).toEqual({
      rate: 120,
      ttlSeconds: 10,
      clients: 50,
      loadPort: 8089,
      consolePort: 0,
      route53: { insyncDelayMs: { min: 30_000, max: 60_000 }, requestsPerSecond: 5 },
    });
    expect(playgroundSettings({ PLAYGROUND_ROUTE53_INSYNC: '2' }).route53).toEqual({ insyncDelayMs: { min: 2000, max: 2000 } });
    expect(playgroundSettings({ PLAYGROUND_EXTERNAL_DNS: '1', PLAYGROUND_EXTERNAL_DNS_INTERVAL: '2' }).externalDns).toEqual({
      intervalMs: 2000,
      churnMs: 5000,
    });
    expect(playgroundSettings({}).externalDns).toBeUndefined();
    expect(() => playgroundSettings({ PLAYGROUND_EXTERNAL_DNS: 'on' })).toThrow('PLAYGROUND_EXTERNAL_DNS must be 0 or 1, not "on"');
    expect(() =>
      playgroundSettings({
        PLAYGROUND_RATE: '0',
        PLAYGROUND_TTL: '1.5',
        PLAYGROUND_CLIENTS: 'many',
        PLAYGROUND_LOAD_PORT: '70000',
        PLAYGROUND_CONSOLE_PORT: 'web',
        PLAYGROUND_ROUTE53_INSYNC: '60-30',
        PLAYGROUND_ROUTE53_RATE: '-1',
      }),
    ).toThrow(
      /PLAYGROUND_TTL must be .*; PLAYGROUND_RATE must be .*; PLAYGROUND_CLIENTS must be .*; PLAYGROUND_LOAD_PORT must be .*; PLAYGROUND_CONSOLE_PORT must be .*; PLAYGROUND_ROUTE53_INSYNC must be seconds, one number or a range like 30-60 \(at most 600\), not "60-30"; PLAYGROUND_ROUTE53_RATE must be requests per second/,
    );
  });
});

describe('playgroundSummary', () => {
  const text = playgroundSummary({
    readySeconds: 41.26,
    envFile: '/tmp/run/playground.env',
    kubeconfig: '/tmp/run/kubeconfig',
    dnsPort: 5353,
    ttlSeconds: 5,
    loadUrl: 'http://127.0.0.1:7000',
    rate: 50,
    clients: 200,
    route53: describeRoute53({ insyncDelayMs: { min: 30_000, max: 60_000 }, requestsPerSecond: 5 }),
    prometheusUrl: 'http://127.0.0.1:9090',
    consoleUrl: 'http://127.0.0.1:3100/',
    clusters: ['blue', 'green'].map((stack, i) => ({
      stack,
      apiServer: `https://127.0.0.1:644${i}`,
      operator: `http://127.0.0.1:810${i}`,
      services: [{ name: 'reservation-api', api: `http://127.0.0.1:300${i}`, admin: `http://127.0.0.1:310${i}` }],
    })),
    shared: { Redis: '127.0.0.1:6379' },
    logs: '/tmp/run',
  });

  it('says what runs where', () => {
    expect(text).toContain('ready in 41.3s');
    expect(text).toMatch(/blue\s+API server https:\/\/127\.0\.0\.1:6440, operator metrics http:\/\/127\.0\.0\.1:8100\/metrics/);
    expect(text).toMatch(/reservation-api\s+http:\/\/127\.0\.0\.1:3001/);
    expect(text).toMatch(/DNS \(stand-in\)\s+udp 127\.0\.0\.1:5353: api\.reservations\.example\.com/);
    expect(text).toMatch(
      /Route53 \(stand-in\)\s+AWS's behaviour in front of moto: changes PENDING for 30s-60s, 5 requests\/s for the account/,
    );
    expect(text).toContain('label cluster="blue|green"');
  });

  it('prints the commands to try: the contexts, dig, the load control, the cutover, the console', () => {
    expect(text).toContain('source /tmp/run/playground.env');
    expect(text).toContain('kubectl --context blue get rsv');
    expect(text).toContain('dig @127.0.0.1 -p 5353 api.reservations.example.com');
    expect(text).toContain('curl -X PUT http://127.0.0.1:7000/load -d rate=100');
    expect(text).toContain(`kubectl --context green patch rsv booking --type merge --patch-file ${SAMPLE_CUTOVER}`);
    expect(text).toContain(
      'The console, on both clusters (kubectl reservation dashboard booking --context blue --context green -n reservations --prometheus http://127.0.0.1:9090):\n\n  http://127.0.0.1:3100/',
    );
  });
});

describe('mergedKubeconfig', () => {
  it("has one context per cluster, named blue and green, from each file's current context, in namespace reservations", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
    try {
      const file = (name: string, port: number) => {
        const path = join(dir, name);
        writeFileSync(
          path,
          `apiVersion: v1
kind: Config
clusters: [{ name: harness, cluster: { server: 'https://127.0.0.1:${port}', certificate-authority-data: Q0E= } }]
users: [{ name: harness-admin, user: { client-certificate-data: Q0VSVA==, client-key-data: S0VZ } }]
contexts: [{ name: harness, context: { cluster: harness, user: harness-admin } }]
current-context: harness
`,
        );
        return path;
      };
      const kc = new KubeConfig();
      kc.loadFromString(mergedKubeconfig({ blue: file('blue', 6443), green: file('green', 7443) }));
      expect(kc.getContexts().map((c) => [c.name, c.cluster, c.user, c.namespace])).toEqual([
        ['blue', 'blue', 'blue-admin', 'reservations'],
        ['green', 'green', 'green-admin', 'reservations'],
      ]);
      expect(kc.getCluster('green')?.server).toBe('https://127.0.0.1:7443');
      expect(kc.getUser('blue-admin')?.keyData).toBe('S0VZ');
      expect(kc.getCurrentContext()).toBe('blue');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
