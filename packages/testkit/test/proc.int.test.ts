import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { startServer } from '../src/harness/proc.ts';
import { runDir } from '../src/harness/run-dirs.ts';
import { waitUntil } from '../src/poll.ts';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('server processes', () => {
  it('stop() ends the server and its process group', async () => {
    const dir = runDir();
    // A shell with a child of its own: both must go.
    const server = startServer('sleeper', 'sh', ['-c', 'sleep 600 & echo $! > child.pid; wait'], { logFile: join(dir, 'log'), cwd: dir });
    await waitUntil(
      'child pid written',
      async () => existsSync(join(dir, 'child.pid')) && readFileSync(join(dir, 'child.pid'), 'utf8').trim() !== '',
    );
    const childPid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    expect(isAlive(server.pid) && isAlive(childPid)).toBe(true);
    await server.stop();
    // Gone once its new parent reaps it: the poller's default wait, not 5 s, on a loaded machine.
    await waitUntil('child gone', async () => !isAlive(childPid));
    expect(isAlive(server.pid)).toBe(false);
  });

  it('reports the log tail of a server that dies while starting', async () => {
    const dir = runDir();
    const server = startServer('broken', 'sh', ['-c', 'echo "config error: MISSING_SETTING"; exit 3'], { logFile: join(dir, 'log') });
    await expect(waitUntil('broken server', async () => false, { server })).rejects.toThrow(/broken exited \(3\)[\s\S]*MISSING_SETTING/);
  });

  it('leaves nothing running when the process that started a server is killed with SIGKILL', async () => {
    const owner = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'start-redis-and-hang.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      owner.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      owner.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
    });
    const { pid } = JSON.parse(line) as { pid: number };
    expect(isAlive(pid)).toBe(true);
    owner.kill('SIGKILL');
    await waitUntil('redis gone with its owner', async () => !isAlive(pid));
    expect(isAlive(pid)).toBe(false);
  });
});
