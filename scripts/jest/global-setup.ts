import { claimRunDirs, type Harness, selectedComponents, startHarness } from '@reservations/testkit';

declare global {
  var __harness: Harness | undefined;
  var __runDirOwner: string | undefined;
}

/**
 * Starts the real servers once per test run; workers inherit their settings through the
 * environment. The run directories that tests make are this process's, removed at teardown.
 */
export default async function globalSetup(): Promise<void> {
  globalThis.__runDirOwner = claimRunDirs();
  const harness = await startHarness(selectedComponents());
  globalThis.__harness = harness;
  Object.assign(process.env, harness.env, { HARNESS_DIR: harness.dir });
}
