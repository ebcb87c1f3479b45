import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { freePort } from './harness/ports.ts';
import { type Server, startServer } from './harness/proc.ts';
import { waitUntil } from './poll.ts';

export interface ServiceProcess {
  /** The harness's server handle: the process dies with the test run even if it is killed. */
  server: Server;
  api: string;
  admin: string;
  log(): string;
}

/**
 * Runs a service's entry point (its `src/server.ts`, or its bundle's `dist/server.mjs`) as a real
 * process on free loopback ports; resolves once /readyz says 200. Its log goes to
 * `<logDir>/<logName>.log` (default: a new temporary directory, the service's name). `node` is
 * what runs the entry: this process's Node, or the command that runs an image's own (its
 * filesystem tree in a chroot).
 */
export async function startServiceProcess(
  entry: string,
  env: Record<string, string>,
  { logDir, logName, node = [process.execPath] }: { logDir?: string; logName?: string; node?: string[] } = {},
): Promise<ServiceProcess> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const name = basename(dirname(dirname(entry)));
  const logFile = join(logDir ?? mkdtempSync(join(tmpdir(), `${name}-`)), `${logName ?? name}.log`);
  const [command = process.execPath, ...args] = node;
  const server = startServer(name, command, [...args, entry], {
    logFile,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ADMIN_PORT: String(adminPort), ...env },
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitUntil(`${name} ready`, async () => (await fetch(`${admin}/readyz`)).status === 200, { server, timeoutMs: 60_000 });
  return { server, api: `http://127.0.0.1:${port}`, admin, log: () => readFileSync(logFile, 'utf8') };
}

export interface ShutdownUnderLoad {
  /** The process's exit code (or the signal that ended it). */
  code: number | string;
  /** The status of every request that got an answer. */
  answered: number[];
  /** The error code of every request that got none (the connection refused or closed). */
  refused: string[];
}

/**
 * Sends `request`s from 16 concurrent clients until at least 100 have been answered, sends
 * SIGTERM, checks readiness turns 503, and keeps the load on until the process has exited.
 */
export async function sigtermUnderLoad(service: ServiceProcess, request: (n: number) => Promise<Response>): Promise<ShutdownUnderLoad> {
  let next = 0;
  let stop = false;
  const answered: number[] = [];
  const refused: string[] = [];
  const client = async () => {
    while (!stop) {
      try {
        const response = await request(next++);
        answered.push(response.status);
        await response.arrayBuffer();
      } catch (err) {
        const code = String((err as { cause?: { code?: string } }).cause?.code);
        refused.push(code);
        if (code === 'ECONNREFUSED') stop = true; // the listener is gone
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  await waitUntil('load running', async () => answered.length >= 100, { intervalMs: 10 });
  process.kill(service.server.pid, 'SIGTERM'); // the service itself, not its group: what the kubelet does
  await waitUntil('readiness 503', async () => (await fetch(`${service.admin}/readyz`)).status === 503, { intervalMs: 10 });
  const code = await service.server.exited;
  stop = true;
  await Promise.all(clients);
  return { code, answered, refused };
}

/** Only these say "refused before the request was taken": a retryable refusal, nothing done. */
export const REFUSALS = ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'];
