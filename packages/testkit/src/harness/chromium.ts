import { ensureDebianTools } from './debian.ts';
import { which } from './proc.ts';

/**
 * Debian's headless-capable Chromium, for the tests that drive a page with playwright-core
 * (which ships no browser). Installed from Debian like the harness's other servers.
 */
export async function installChromium(): Promise<string> {
  await ensureDebianTools('chromium', [{ binary: 'chromium', pkg: 'chromium' }]);
  const path = which('chromium');
  if (!path) throw new Error('chromium: installed, but not on PATH');
  return path;
}
