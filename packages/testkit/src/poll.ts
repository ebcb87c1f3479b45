import { setTimeout as sleep } from 'node:timers/promises';
import { elapsed } from './harness/log.ts';
import { logTail, type Server } from './harness/proc.ts';

export interface WaitOptions {
  /** Fail at once, with its log's tail, if this server exits meanwhile. */
  server?: Server;
  /** Default 30 s: well inside jest's 60 s test timeout, so this message, not jest's, says what never happened. */
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns true: the one way tests, benchmarks and the harness wait for
 * anything asynchronous (a server, a watch event, a replica, a delivery). An error `check`
 * throws counts as "not yet"; the last one is in the timeout's message.
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  { server, timeoutMs = 30_000, intervalMs = 100 }: WaitOptions = {},
): Promise<void> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    if (server?.hasExited()) {
      throw new Error(`${what}: ${server.name} exited (${await server.exited}); last log lines:\n${logTail(server.logFile)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError ?? 'condition never held');
  const log = server ? `\nlast log lines of ${server.name}:\n${logTail(server.logFile)}` : '';
  throw new Error(`${what}: still not true after ${elapsed(started)} (${reason})${log}`);
}
