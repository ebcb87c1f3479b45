import { removeRunDirsOf } from '@reservations/testkit';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__harness?.stop();
  if (globalThis.__runDirOwner) removeRunDirsOf(globalThis.__runDirOwner);
}
