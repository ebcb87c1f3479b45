import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../../scripts/harness/ports.ts';

const main = join(import.meta.dirname, '..', '..', 'src', 'main.ts');

export interface OperatorProcess {
  child: ChildProcess;
  admin: string;
  log(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs the operator as a real process (operator/src/main.ts), as a Deployment would. */
export async function startOperator(env: Record<string, string>): Promise<OperatorProcess> {
  const port = await freePort();
  const output: string[] = [];
  // Under setpriv --pdeathsig, like the harness's servers: it dies with whoever started it.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, main], {
    env: { PATH: process.env.PATH, ADMIN_HOST: '127.0.0.1', ADMIN_PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => output.push(String(d)));
  child.stderr?.on('data', (d: Buffer) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    admin: `http://127.0.0.1:${port}`,
    log: () => output.join(''),
    exited,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal);
    },
  };
}

/** The value of the series `name` with (at least) `labels`, from the admin port's /metrics. */
export async function metric(op: OperatorProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(`${op.admin}/metrics`)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}
