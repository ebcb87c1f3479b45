import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The operator's drain switch: a file the kubelet projects from a ConfigMap into every pod
 * (DRAIN_FILE). While it says `true` (a cutover is draining this cluster), every response asks
 * the client to close its connection, so keep-alive clients reconnect and resolve the name
 * again, and DNS moves them to the other cluster. The kubelet updates the file in place, so it
 * is re-read every `intervalMs`; a missing or unreadable file is off.
 */
export function watchDrainSwitch(file: string, intervalMs = 2000) {
  const read = () => {
    try {
      return readFileSync(file, 'utf8').trim() === 'true';
    } catch {
      return false;
    }
  };
  let on = read();
  const timer = setInterval(() => {
    on = read();
  }, intervalMs);
  timer.unref();
  return {
    get on() {
      return on;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * `Connection: close` on every response while `closing()` says so (RFC 9112 §9.6): the client
 * finishes this request and opens a new connection for the next.
 */
export function closeConnectionsWhile(app: FastifyInstance, closing: () => boolean): void {
  app.addHook('onSend', async (_request, reply) => {
    if (closing()) reply.header('connection', 'close');
  });
}
