/** A setting the harness exported to the test workers; fails loudly when it is missing. */
export function harnessEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through \`npm test\` (jest's global setup starts the harness)`);
  return value;
}
