import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../../../scripts/harness/ports.ts';
import { waitUntil } from '../../../../scripts/harness/proc.ts';

export interface ServiceProcess {
  child: ChildProcess;
  api: string;
  admin: string;
  log(): string;
  exited: Promise<number | null>;
}

/** Runs a service's `server.ts` as a real process on free loopback ports; resolves once /readyz says 200. */
export async function startServiceProcess(entry: string, env: Record<string, string>): Promise<ServiceProcess> {
  const [port, adminPort] = [await freePort(), await freePort()];
  let log = '';
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ADMIN_PORT: String(adminPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log += d));
  child.stderr?.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const admin = `http://127.0.0.1:${adminPort}`;
  await Promise.race([
    waitUntil(`${entry} ready`, async () => (await fetch(`${admin}/readyz`)).status === 200),
    exited.then((code) => Promise.reject(new Error(`${entry} exited (${code}) before it was ready:\n${log}`))),
  ]);
  return { child, api: `http://127.0.0.1:${port}`, admin, log: () => log, exited };
}

export interface ShutdownUnderLoad {
  /** The process's exit code. */
  code: number | null;
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
  service.child.kill('SIGTERM');
  await waitUntil('readiness 503', async () => (await fetch(`${service.admin}/readyz`)).status === 503, { intervalMs: 10 });
  const code = await service.exited;
  stop = true;
  await Promise.all(clients);
  return { code, answered, refused };
}

/** Only these say "refused before the request was taken": a retryable refusal, nothing done. */
export const REFUSALS = ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'];
