/**
 * Keeps the process up until Ctrl-C (SIGINT) or SIGTERM, then runs `stop` once and exits 0: what
 * `npm start` does in both of its modes. `stopping()` says whether that has begun: what fails
 * meanwhile (a start cut short) is no error to report.
 */
export function stopOnCtrlC(stop: () => Promise<void>): { stopping(): boolean } {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      console.log('\nstopping…');
      await stop();
      process.exit(0);
    });
  }
  setInterval(() => {}, 1 << 30);
  return { stopping: () => stopping };
}
