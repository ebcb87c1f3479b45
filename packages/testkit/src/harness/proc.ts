import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { elapsed, step } from './log.ts';

/** A server process started by the harness, in its own process group. */
export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  readonly hasExited: () => boolean;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Server>();

// Last line of defence against leftovers: if this process exits without stopping its
// servers (a crash, an uncaught error), kill their groups synchronously on the way out.
process.once('exit', () => {
  for (const server of live) killGroup(server.pid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface StartOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts `command` detached in its own process group with output appended to `logFile`.
 * It runs under `setpriv --pdeathsig SIGKILL`, so the kernel kills it if this process dies
 * even by SIGKILL: a killed test run leaves nothing behind.
 */
export function startServer(name: string, command: string, args: string[], options: StartOptions): Server {
  const out = openSync(options.logFile, 'a');
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], {
    detached: true,
    stdio: ['ignore', out, out],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(server);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      done = true;
      live.delete(server);
      resolve(err.message);
    });
  });
  const server: Server = {
    name,
    pid,
    logFile: options.logFile,
    exited,
    hasExited: () => done,
    async stop(graceMs = 10_000) {
      if (done) return;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Children of the server that outlived it (none expected) go with the group.
      killGroup(pid, 'SIGKILL');
    },
  };
  live.add(server);
  return server;
}

/** Stops servers in the reverse of the order they were started (dependants first). */
export async function stopServers(servers: readonly Server[]): Promise<void> {
  for (const server of [...servers].reverse()) await server.stop();
}

export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface RunResult {
  /** The exit code (0 unless `check: false`), or the signal or error that ended the command. */
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and returns its output; a non-zero exit throws with the
 * command line and the tail of its output, unless `check` is false (then the caller reads
 * `code`). `progress` prints a heartbeat for long runs.
 */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; progress?: { component: string; what: string }; check?: boolean } = {},
): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const heartbeat = options.progress
    ? setInterval(() => {
        const { component, what } = options.progress ?? { component: '', what: '' };
        step(component, `still ${what} (${elapsed(started)})`);
      }, 60_000)
    : undefined;
  const code = await new Promise<number | string>((resolve) => {
    child.once('close', (c, signal) => resolve(c ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(err.message));
  });
  clearInterval(heartbeat);
  if (code !== 0 && options.check !== false) {
    const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`\`${command} ${args.join(' ')}\` failed (${code}):\n${tail}`);
  }
  return { code, stdout, stderr };
}

/**
 * The fields of /proc/<pid>/stat after the command name, which is in parentheses and may hold
 * spaces and parentheses (so: from the last parenthesis on); undefined once the process is gone.
 * Field n of proc(5) is index n - 3.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux); NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  const fields = procStat(pid);
  // utime and stime (fields 14 and 15), in USER_HZ ticks (100 a second on Linux).
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : Number.NaN;
}

/** The absolute path of `name` on PATH, or undefined. */
export function which(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...extraDirs, ...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
