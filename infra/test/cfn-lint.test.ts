import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cfnLintBinary } from '@reservations/testkit';
import { type Synthesized, synthesizeExample } from './support/platform.ts';

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
  Filename: string;
}

/** cfn-lint's findings on the templates (its exit code is a bit mask of the levels found). */
function cfnLint(templates: string[]): Promise<Finding[]> {
  if (!existsSync(cfnLintBinary())) {
    throw new Error(`cfn-lint is not at ${cfnLintBinary()}: \`npm test\` installs it (or set HARNESS_CFN_LINT)`);
  }
  return new Promise((resolve, reject) => {
    execFile(
      cfnLintBinary(),
      ['--format', 'json', '--', ...templates],
      { timeout: 420_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        if (err && typeof code !== 'number') return reject(new Error(`cfn-lint: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as Finding[]);
        } catch {
          reject(new Error(`cfn-lint exited ${code} without JSON findings:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

let synth: Synthesized;
beforeAll(() => {
  synth = synthesizeExample();
}, 480_000);
afterAll(() => synth?.remove());

describe('cfn-lint on the synthesized templates', () => {
  it('finds no error in any of the five', async () => {
    const templates = synth.assembly.stacks.map((s) => join(synth.dir, s.templateFile));
    expect(templates).toHaveLength(5);
    const errors = (await cfnLint(templates)).filter((f) => f.Level === 'Error');
    expect(errors.map((e) => `${e.Filename}: ${e.Rule.Id} ${e.Message}`)).toEqual([]);
  }, 480_000);

  it('reports an error in a template that CloudFormation would refuse', async () => {
    const broken = join(synth.dir, 'broken.template.json');
    writeFileSync(
      broken,
      JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: 'sometimes', MaximumMessageSize: 1 } } } }),
    );
    const errors = (await cfnLint([broken])).filter((f) => f.Level === 'Error');
    expect(errors.map((e) => e.Rule.Id).sort()).toEqual(['E3012', 'E3034']);
  }, 480_000);
});
