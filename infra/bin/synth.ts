// `npm run infra:synth`: synthesizes every stack into cdk.out (offline) and prints each with
// its resource count; cdk-nag's errors and an invalid configuration fail it.
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { summarize } from '../src/summary.ts';

const root = join(import.meta.dirname, '..');
const configPath = process.env.INFRA_CONFIG ?? join(root, 'config', 'example.json');
const started = Date.now();
const { app } = buildApp(loadConfig(configPath), join(root, 'cdk.out'));
const assembly = app.synth();
console.log(summarize(assembly, configPath, Date.now() - started));
