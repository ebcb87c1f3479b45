// Writes crds/ from the operator's API types (operator/src/api): `npm run generate:crds`.
// A test fails when crds/ and the types disagree.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles } from '../operator/src/api/crd-files.ts';
import { repoRoot } from './harness/paths.ts';

for (const { file, yaml } of crdFiles()) {
  writeFileSync(join(repoRoot, 'crds', file), yaml);
  console.log(`wrote crds/${file}`);
}
