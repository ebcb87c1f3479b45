/** Progress lines for long commands: one line per step, on stderr so stdout stays clean for data. */
export function step(component: string, message: string): void {
  process.stderr.write(`[harness] ${component}: ${message}\n`);
}

export function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
