import { type Harness, selectedComponents, startHarness } from '@reservations/testkit';

declare global {
  var __harness: Harness | undefined;
}

/** Starts the real servers once per test run; workers inherit their settings through the environment. */
export default async function globalSetup(): Promise<void> {
  const harness = await startHarness(selectedComponents());
  globalThis.__harness = harness;
  Object.assign(process.env, harness.env, { HARNESS_DIR: harness.dir });
}
