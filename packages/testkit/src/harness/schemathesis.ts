import { installPythonTool, type PythonTool, pythonToolBinary } from './python-tools.ts';

/**
 * Schemathesis, a property-based client of OpenAPI documents that no one here wrote: the
 * services' contract tests run it against each service, so the documents stay what they serve.
 */
export const SCHEMATHESIS_VERSION = '4.32.5';
const SCHEMATHESIS: PythonTool = { component: 'schemathesis', requirement: 'schemathesis', version: SCHEMATHESIS_VERSION, script: 'st' };

export function schemathesisBinary(): string {
  return process.env.HARNESS_SCHEMATHESIS || pythonToolBinary(SCHEMATHESIS);
}

export async function installSchemathesis(): Promise<void> {
  if (process.env.HARNESS_SCHEMATHESIS) return;
  await installPythonTool(SCHEMATHESIS);
}
