import { join } from 'node:path';
import { removeRunDir, runDir } from '@reservations/testkit';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp, type PlatformApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

export const EXAMPLE_CONFIG = join(import.meta.dirname, '..', '..', 'config', 'example.json');

export interface Synthesized {
  platform: PlatformApp;
  assembly: CloudAssembly;
  dir: string;
  template(stack: 'network' | 'data' | 'dns' | 'blue' | 'green'): Template;
  remove(): void;
}

/** The example configuration's app, synthesized once (cdk-nag included) into a throwaway directory. */
export function synthesizeExample(): Synthesized {
  const dir = runDir('reservations-infra-');
  const platform = buildApp(loadConfig(EXAMPLE_CONFIG), dir);
  const assembly = platform.app.synth();
  const templates = new Map<string, Template>();
  return {
    platform,
    assembly,
    dir,
    template(stack) {
      let t = templates.get(stack);
      if (!t) {
        t = Template.fromJSON(assembly.getStackByName(platform[stack].stackName).template as Record<string, unknown>);
        templates.set(stack, t);
      }
      return t;
    },
    remove: () => removeRunDir(dir),
  };
}

type Json = unknown;

/** The resources of a template of one type, by logical id. */
export function resourcesOf(template: Template, type: string): [string, { Properties: Record<string, Json> }][] {
  return Object.entries(template.findResources(type)) as [string, { Properties: Record<string, Json> }][];
}

/**
 * A CloudFormation string value with its references written out: `Fn::Join` parts joined,
 * `Fn::ImportValue` as `<import:NAME>`, `Ref` as `<ref:ID>`, `Fn::GetAtt` as `<ID.Attr>`.
 */
export function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, Json>;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, Json[]];
    return parts.map(render).join(sep);
  }
  if ('Fn::ImportValue' in v) return `<import:${render(v['Fn::ImportValue'])}>`;
  if ('Ref' in v) return `<ref:${v.Ref}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`render: ${JSON.stringify(value)}`);
}
