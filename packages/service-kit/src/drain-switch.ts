import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * The operator's drain switch: a file the kubelet projects from a ConfigMap into every pod
 * (DRAIN_FILE), re-read every `intervalMs` since the kubelet updates it in place. It says one of:
 * - `true`: a cutover drains this cluster: every response asks the client to close its connection;
 * - a rebalance, `{"fraction":0.25,"since":"<ISO time>","spreadSeconds":5}`: a cutover step moved
 *   that fraction of this cluster's traffic away, so that fraction of the keep-alive connections
 *   opened before `since` is closed, spread over `spreadSeconds` (one TTL), and their clients
 *   resolve the name again and follow the new weights;
 * - anything else (`false`, a missing or unreadable file): off.
 */
export type DrainSwitchState =
  | { kind: 'off' }
  | { kind: 'all' }
  | { kind: 'rebalance'; fraction: number; sinceMs: number; spreadMs: number };

const OFF: DrainSwitchState = { kind: 'off' };

/** The switch's state from the file's text (pure): what it cannot read is off, never a crash. */
export function parseDrainSwitch(text: string | undefined): DrainSwitchState {
  const trimmed = text?.trim() ?? '';
  if (trimmed === 'true') return { kind: 'all' };
  if (!trimmed.startsWith('{')) return OFF;
  let value: { fraction?: unknown; since?: unknown; spreadSeconds?: unknown };
  try {
    value = JSON.parse(trimmed);
  } catch {
    return OFF;
  }
  const { fraction, since, spreadSeconds } = value;
  const sinceMs = typeof since === 'string' ? Date.parse(since) : Number.NaN;
  if (typeof fraction !== 'number' || !(fraction > 0) || Number.isNaN(sinceMs)) return OFF;
  const spreadMs = typeof spreadSeconds === 'number' && spreadSeconds > 0 ? spreadSeconds * 1000 : 0;
  // Fraction 1 closes every older connection once; only the drain (`true`) closes new ones too.
  return { kind: 'rebalance', fraction: Math.min(1, fraction), sinceMs, spreadMs };
}

/** A kept-alive connection as the rebalance sees it: when it was opened, and its draw for the current rebalance. */
export interface ConnectionDraw {
  openedAtMs: number;
  /** Uniform in [0, 1), drawn once per connection and rebalance. */
  draw: number;
}

/**
 * Whether this response closes its connection (pure). In a rebalance, a connection opened
 * before it began is picked when its draw is below the fraction, and closes at its first
 * response after its own moment in the spread (draw / fraction of the way through it), so the
 * closes arrive evenly over the spread rather than all at once; a connection opened since came
 * from a fresh resolution and is left alone.
 */
export function closesConnection(state: DrainSwitchState, connection: ConnectionDraw, nowMs: number): boolean {
  switch (state.kind) {
    case 'off':
      return false;
    case 'all':
      return true;
    case 'rebalance': {
      if (connection.openedAtMs >= state.sinceMs || connection.draw >= state.fraction) return false;
      return nowMs >= state.sinceMs + (connection.draw / state.fraction) * state.spreadMs;
    }
  }
}

export function watchDrainSwitch(file: string, intervalMs = 2000) {
  const read = () => {
    try {
      return parseDrainSwitch(readFileSync(file, 'utf8'));
    } catch {
      return OFF;
    }
  };
  let state = read();
  const timer = setInterval(() => {
    state = read();
  }, intervalMs);
  timer.unref();
  return {
    /** True while the switch says every response closes its connection (the drain). */
    get on() {
      return state.kind === 'all';
    },
    get state() {
      return state;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * `Connection: close` on the responses `state()` picks (RFC 9112 §9.6): the client finishes
 * this request and opens a new connection for the next. Each connection gets its opening time
 * and one draw per rebalance (`random`, injectable for tests).
 */
export function closeConnectionsBy(app: FastifyInstance, state: () => DrainSwitchState, random: () => number = Math.random): void {
  const opened = new WeakMap<Socket, number>();
  const draws = new WeakMap<Socket, { sinceMs: number; draw: number }>();
  app.server.on('connection', (socket: Socket) => opened.set(socket, Date.now()));
  app.addHook('onSend', async (request, reply) => {
    const now = state();
    if (now.kind === 'off') return;
    const socket = request.raw.socket;
    // A socket seen before the hook was added counts as opened before any rebalance.
    const openedAtMs = opened.get(socket) ?? 0;
    let draw = 0;
    if (now.kind === 'rebalance') {
      if (openedAtMs >= now.sinceMs) return; // a fresh resolution's connection: never drawn
      let d = draws.get(socket);
      if (d?.sinceMs !== now.sinceMs) {
        d = { sinceMs: now.sinceMs, draw: random() };
        draws.set(socket, d);
      }
      draw = d.draw;
    }
    if (closesConnection(now, { openedAtMs, draw }, Date.now())) reply.header('connection', 'close');
  });
}
