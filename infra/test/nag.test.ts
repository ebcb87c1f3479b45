import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { removeRunDir, runDir } from '@reservations/testkit';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { checkWithNag } from '../src/app.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeRunDir(d);
});

/** A one-queue app checked as the platform is: a queue without a DLQ and with plain HTTP allowed. */
function appWithPlainQueue() {
  const outdir = runDir('reservations-infra-');
  dirs.push(outdir);
  const app = new App({ outdir });
  const stack = new Stack(app, 'nag-probe', { env: { account: '123456789012', region: 'eu-west-1' } });
  const queue = new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.SQS_MANAGED });
  checkWithNag(app);
  return { app, queue, outdir };
}

describe('the cdk-nag check', () => {
  it('fails synthesis on a finding nobody acknowledged, naming the rule', () => {
    const { app, outdir } = appWithPlainQueue();
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS4/);
    type Report = {
      pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
    };
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as Report;
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag?.violations.map((v) => [v.ruleName, v.violatingConstructs.map((c) => c.constructPath)])).toEqual([
      ['AwsSolutions-SQS3', ['nag-probe/Plain/Resource']],
      ['AwsSolutions-SQS4', ['nag-probe/Plain/Resource']],
    ]);
  }, 120_000);

  it('lets synthesis through once each finding is acknowledged with a reason', () => {
    const { app, queue } = appWithPlainQueue();
    Validations.of(queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason: 'a probe queue: nothing to redrive' });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS4', reason: 'a probe queue: never deployed' });
    expect(app.synth().stacks.map((s) => s.stackName)).toEqual(['nag-probe']);
  }, 120_000);
});
