// The CDK CLI's entry (`cdk diff`, `cdk deploy`; see cdk.json): the same app as `npm run infra:synth`.
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

const configPath = process.env.INFRA_CONFIG ?? join(import.meta.dirname, '..', 'config', 'example.json');
buildApp(loadConfig(configPath)).app.synth();
