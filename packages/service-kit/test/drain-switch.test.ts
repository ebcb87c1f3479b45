import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import Fastify from 'fastify';
import { closeConnectionsBy, closesConnection, type DrainSwitchState, parseDrainSwitch, watchDrainSwitch } from '../src/drain-switch.ts';

const dir = mkdtempSync(join(tmpdir(), 'drain-switch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SINCE = '2026-12-03T22:00:00.000Z';
const sinceMs = Date.parse(SINCE);

describe('the drain switch file', () => {
  it('reads true as the drain, a rebalance as its fraction, since and spread, and anything else as off', () => {
    expect(parseDrainSwitch('true\n')).toEqual({ kind: 'all' });
    expect(parseDrainSwitch(JSON.stringify({ fraction: 0.25, since: SINCE, spreadSeconds: 5 }))).toEqual({
      kind: 'rebalance',
      fraction: 0.25,
      sinceMs,
      spreadMs: 5000,
    });
    // Fraction 1 closes every connection opened before it, once; only the drain closes the new ones too.
    expect(parseDrainSwitch(JSON.stringify({ fraction: 1, since: SINCE, spreadSeconds: 5 }))).toEqual({
      kind: 'rebalance',
      fraction: 1,
      sinceMs,
      spreadMs: 5000,
    });
    for (const text of [
      undefined,
      '',
      'false',
      'yes',
      '{"fraction":',
      '{"fraction":0,"since":"2026-12-03T22:00:00Z"}',
      '{"fraction":0.5}',
    ]) {
      expect(parseDrainSwitch(text)).toEqual({ kind: 'off' });
    }
  });
});

describe('which responses close their connection', () => {
  const rebalance: DrainSwitchState = { kind: 'rebalance', fraction: 0.25, sinceMs, spreadMs: 4000 };

  it('closes every one in the drain and none when off', () => {
    expect(closesConnection({ kind: 'all' }, { openedAtMs: sinceMs + 1, draw: 0.9 }, sinceMs)).toBe(true);
    expect(closesConnection({ kind: 'off' }, { openedAtMs: 0, draw: 0 }, sinceMs)).toBe(false);
  });

  it('closes a picked older connection at its own moment in the spread, and leaves the others and newer ones alone', () => {
    const old = sinceMs - 60_000;
    // Draw 0.125 is half of 0.25: its moment is half way through the 4 s spread.
    expect(closesConnection(rebalance, { openedAtMs: old, draw: 0.125 }, sinceMs + 1999)).toBe(false);
    expect(closesConnection(rebalance, { openedAtMs: old, draw: 0.125 }, sinceMs + 2000)).toBe(true);
    expect(closesConnection(rebalance, { openedAtMs: old, draw: 0 }, sinceMs)).toBe(true);
    // Not picked, whenever it answers.
    expect(closesConnection(rebalance, { openedAtMs: old, draw: 0.25 }, sinceMs + 60_000)).toBe(false);
    // Opened since the rebalance began: a fresh resolution, already following the new weights.
    expect(closesConnection(rebalance, { openedAtMs: sinceMs, draw: 0 }, sinceMs + 60_000)).toBe(false);
  });

  it("over many connections, closes the fraction's share of them", () => {
    const draws = Array.from({ length: 10_000 }, (_, i) => (i + 0.5) / 10_000);
    const closed = draws.filter((draw) => closesConnection(rebalance, { openedAtMs: 0, draw }, sinceMs + 4000)).length;
    expect(closed).toBe(2500);
  });
});

describe("the operator's drain switch", () => {
  it('is off without the file, follows what the file says, and is re-read as the kubelet updates it', async () => {
    const file = join(dir, 'connection-close');
    const drain = watchDrainSwitch(file, 10);
    try {
      expect(drain.on).toBe(false);
      // Re-read every 10 ms by a timer; the default wait, since a loaded machine can hold it up for seconds.
      writeFileSync(file, 'true');
      await waitUntil('on', async () => drain.on, { intervalMs: 10 });
      expect(drain.state).toEqual({ kind: 'all' });
      writeFileSync(file, JSON.stringify({ fraction: 0.4, since: SINCE, spreadSeconds: 2 }));
      await waitUntil('rebalancing', async () => drain.state.kind === 'rebalance', { intervalMs: 10 });
      expect(drain.on).toBe(false);
      expect(drain.state).toEqual({ kind: 'rebalance', fraction: 0.4, sinceMs, spreadMs: 2000 });
      writeFileSync(file, 'false\n');
      await waitUntil('off', async () => drain.state.kind === 'off', { intervalMs: 10 });
      expect(drain.on).toBe(false);
    } finally {
      drain.stop();
    }
  });
});

describe('a real Fastify server behind the switch', () => {
  async function serve(state: () => DrainSwitchState, random?: () => number) {
    let connections = 0;
    const app = Fastify();
    closeConnectionsBy(app, state, random);
    app.get('/', async () => ({ ok: true }));
    app.server.on('connection', () => {
      connections += 1;
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, url, connections: () => connections };
  }
  const get = (url: string, agent: Agent) =>
    new Promise<string | undefined>((resolve, reject) => {
      httpGet(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.headers.connection));
      }).on('error', reject);
    });

  it('makes keep-alive clients reconnect for every request while it drains', async () => {
    let state: DrainSwitchState = { kind: 'off' };
    const server = await serve(() => state);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect([await get(server.url, agent), await get(server.url, agent), await get(server.url, agent)]).toEqual([
        'keep-alive',
        'keep-alive',
        'keep-alive',
      ]);
      expect(server.connections()).toBe(1);
      state = { kind: 'all' };
      expect([await get(server.url, agent), await get(server.url, agent), await get(server.url, agent)]).toEqual([
        'close',
        'close',
        'close',
      ]);
      // The first of those still came over the kept-alive connection; each one after needed a new one.
      expect(server.connections()).toBe(3);
    } finally {
      agent.destroy();
      await server.app.close();
    }
  });

  it("in a rebalance, closes the fraction's share of the keep-alive connections once each, and none opened since", async () => {
    const clients = 200;
    const fraction = 0.3;
    let state: DrainSwitchState = { kind: 'off' };
    const draws: number[] = [];
    const server = await serve(
      () => state,
      () => {
        const draw = Math.random();
        draws.push(draw);
        return draw;
      },
    );
    const agents = Array.from({ length: clients }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const round = () => Promise.all(agents.map((agent) => get(server.url, agent)));
    try {
      expect(new Set(await round())).toEqual(new Set(['keep-alive']));
      expect(server.connections()).toBe(clients);
      // Begins after every connection was opened (a millisecond later, whatever the clock's grain); a
      // spread of 0 closes each picked one at its next response.
      await sleep(2);
      state = { kind: 'rebalance', fraction, sinceMs: Date.now(), spreadMs: 0 };
      const answers = await round();
      // One draw per connection; the picked ones are those below the fraction, about 60 of 200.
      expect(draws).toHaveLength(clients);
      const picked = draws.filter((d) => d < fraction).length;
      expect(answers.filter((a) => a === 'close')).toHaveLength(picked);
      expect(picked).toBeGreaterThan(0);
      expect(picked).toBeLessThan(clients);
      // The closed ones reconnect: new connections, opened after the rebalance began, kept alive.
      expect(new Set(await round())).toEqual(new Set(['keep-alive']));
      expect(server.connections()).toBe(clients + picked);
      // The survivors are not drawn again for the same rebalance.
      expect(draws).toHaveLength(clients);
    } finally {
      for (const agent of agents) agent.destroy();
      await server.app.close();
    }
  });
});
