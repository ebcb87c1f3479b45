import type { CloudAssembly } from 'aws-cdk-lib/cx-api';

export interface StackSummary {
  name: string;
  resources: number;
}

/** Each stack of the assembly with its resource count. */
export function stackSummaries(assembly: CloudAssembly): StackSummary[] {
  return assembly.stacks.map((s) => ({
    name: s.stackName,
    resources: Object.keys((s.template as { Resources?: object }).Resources ?? {}).length,
  }));
}

export function summarize(assembly: CloudAssembly, configPath: string, ms: number): string {
  const stacks = stackSummaries(assembly);
  const width = Math.max(...stacks.map((s) => s.name.length));
  const lines = stacks.map((s) => `  ${s.name.padEnd(width)}  ${String(s.resources).padStart(4)} resources`);
  const total = stacks.reduce((n, s) => n + s.resources, 0);
  return [
    `synthesized ${stacks.length} stacks from ${configPath} into ${assembly.directory} in ${(ms / 1000).toFixed(1)} s:`,
    ...lines,
    `  ${'total'.padEnd(width)}  ${String(total).padStart(4)} resources`,
  ].join('\n');
}
