// Writes crds/ from the operator's API types (operator/src/api), and the chart files derived
// from them (the operator chart's copy of the CRDs, the platform chart's values schema):
// `npm run generate:crds`. A test fails when any of them and the types disagree.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles } from '@reservations/operator/crd';
import { repoRoot } from '@reservations/testkit';
import { generatedChartFiles } from './charts/generated.ts';

const files = [...crdFiles().map(({ file, yaml }) => ({ path: join('crds', file), content: yaml })), ...generatedChartFiles()];
for (const { path, content } of files) {
  writeFileSync(join(repoRoot, path), content);
  console.log(`wrote ${path}`);
}
