import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from './harness/run-dirs.ts';
import { schemathesisBinary } from './harness/schemathesis.ts';

export interface SchemathesisOptions {
  /** The service's base URL; its OpenAPI document is at `/docs/json`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` on every request. */
  token: string;
  /** The service's checked-in `schemathesis.toml` (what the document cannot say in JSON Schema, with reasons). */
  configFile: string;
  /**
   * Values only this run knows (ids, instants, tokens), as Schemathesis dictionaries that the
   * checked-in file's `[parameters]` bind to fields; written as the `[dictionaries]` table.
   */
  dictionaries?: Record<string, readonly string[]>;
  /** Test cases per operation and phase: bounds the run's length. */
  maxExamples: number;
  /** The whole run is stopped past this (a hung run is a failure, not a hung test). */
  timeoutMs?: number;
}

export interface SchemathesisRun {
  /** 0 when every check passed on every test case. */
  exitCode: number | string;
  /** Schemathesis's report as it prints it: phases, each failure with its curl reproduction, the summary. */
  output: string;
  /** API links (OpenAPI `links`) the stateful phase followed at least once. */
  linksCovered: number;
}

/**
 * Runs Schemathesis against a service with every check, in all four phases (examples, coverage,
 * fuzzing, stateful through the document's links), with a fixed seed so a failure reproduces
 * (`SCHEMATHESIS_SEED` picks another). Resolves with its exit code and report; never rejects on
 * failures, so the test can show the report.
 */
export async function runSchemathesis(options: SchemathesisOptions): Promise<SchemathesisRun> {
  const binary = schemathesisBinary();
  if (!existsSync(binary)) throw new Error(`Schemathesis is not at ${binary}: \`npm test\` installs it (or set HARNESS_SCHEMATHESIS)`);
  const dir = runDir('reservations-schemathesis-');
  const config = join(dir, 'schemathesis.toml');
  writeFileSync(config, `${readFileSync(options.configFile, 'utf8')}\n${dictionariesTable(options.dictionaries ?? {})}`);
  const args = [
    '--config-file',
    config,
    'run',
    `${options.baseUrl}/docs/json`,
    '--url',
    options.baseUrl,
    '--header',
    `Authorization: Bearer ${options.token}`,
    '--checks',
    'all',
    '--max-examples',
    String(options.maxExamples),
    '--seed',
    process.env.SCHEMATHESIS_SEED ?? '1',
    '--request-timeout',
    '10',
    '--generation-database',
    'none',
    '--no-color',
  ];
  const { code, output } = await new Promise<{ code: number | string; output: string }>((resolve) => {
    execFile(
      binary,
      args,
      { cwd: dir, timeout: options.timeoutMs ?? 180_000, killSignal: 'SIGTERM', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const failed = err as (Error & { code?: number | string; signal?: string }) | null;
        const output = `${stdout}${stderr}`;
        if (failed?.signal) resolve({ code: failed.signal, output: `${output}\n(stopped after ${options.timeoutMs ?? 180_000} ms)` });
        else resolve({ code: failed ? (failed.code ?? failed.message) : 0, output });
      },
    );
  });
  const links = /API Links:\s+(\d+) covered/.exec(output);
  return { exitCode: code, output, linksCovered: links ? Number(links[1]) : 0 };
}

/** TOML's basic strings read JSON's string escapes, so JSON arrays of strings are TOML arrays. */
function dictionariesTable(dictionaries: Record<string, readonly string[]>): string {
  const lines = Object.entries(dictionaries).map(([name, values]) => `${JSON.stringify(name)} = { values = ${JSON.stringify(values)} }`);
  return lines.length > 0 ? `[dictionaries]\n${lines.join('\n')}\n` : '';
}
