import { installPythonTool, type PythonTool, pythonToolBinary } from './python-tools.ts';

/** cfn-lint, AWS's CloudFormation linter, for the tests that check the CDK app's templates. */
export const CFN_LINT_VERSION = '1.58.0';
const CFN_LINT: PythonTool = { component: 'cfn-lint', requirement: 'cfn-lint', version: CFN_LINT_VERSION, script: 'cfn-lint' };

export function cfnLintBinary(): string {
  return process.env.HARNESS_CFN_LINT || pythonToolBinary(CFN_LINT);
}

export async function installCfnLint(): Promise<void> {
  if (process.env.HARNESS_CFN_LINT) return;
  await installPythonTool(CFN_LINT);
}
