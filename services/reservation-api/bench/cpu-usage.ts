import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds } from '@reservations/testkit';

/** User + system CPU a process has used so far, in ms; 0 once it is gone. */
function cpuMs(pid: number): number {
  return (cpuSeconds(pid) || 0) * 1000;
}

/** The pid of each process whose command line contains the given marker (the harness's servers). */
export function processesMatching(markers: Record<string, string>): Record<string, number> {
  const found: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmdline.startsWith('setpriv')) continue;
    for (const [name, marker] of Object.entries(markers)) if (cmdline.includes(marker)) found[name] = Number(entry);
  }
  return found;
}

/**
 * CPU each process spends per request over a phase: call `start()` before and `per(requests)`
 * after; tells which process (server, database, cache, load generator) the time goes to.
 */
export function cpuPerRequest(processes: Record<string, number>) {
  let before: Record<string, number> = {};
  return {
    start() {
      before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuMs(pid)]));
    },
    per(requests: number): string {
      return Object.entries(processes)
        .map(([name, pid]) => [name, (cpuMs(pid) - (before[name] ?? 0)) / requests] as const)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => `${name} ${(ms * 1000).toFixed(0)} µs`)
        .join(', ');
    },
  };
}
