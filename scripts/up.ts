// `npm start`: the cutover playground (scripts/platform/playground.ts): two clusters, blue and
// green, with their operators and services, the weighted name behind a DNS stand-in, steady
// traffic and a cutover ready to start. `npm start -- --single`: the one-cluster platform, for
// work on the services (scripts/platform/single-cluster.ts). Ctrl-C stops everything.
import { elapsed } from '@reservations/testkit';
import { runPlayground } from './platform/playground.ts';
import { runSingleCluster } from './platform/single-cluster.ts';

const started = Date.now();
const args = process.argv.slice(2);
const unknown = args.find((a) => a !== '--single');
if (unknown !== undefined) {
  process.stderr.write(`npm start: unknown option "${unknown}"; the one option is --single (one cluster, for work on the services)\n`);
  process.exit(2);
}
if (args.includes('--single')) await runSingleCluster();
else await runPlayground(started, (message) => process.stderr.write(`[playground ${elapsed(started).padStart(6)}] ${message}\n`));
