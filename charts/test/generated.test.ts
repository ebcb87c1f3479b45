import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { repoRoot } from '@reservations/testkit';
import { generatedChartFiles } from '../../scripts/charts/generated.ts';

describe('the generated chart files', () => {
  it.each(generatedChartFiles().map((f) => [f.path, f.content]))(
    '%s matches the Reservation API (run `npm run generate:crds` after changing it)',
    (path, content) => {
      expect(readFileSync(join(repoRoot, path), 'utf8')).toBe(content);
    },
  );

  it("ships the operator chart's CRD as the same bytes as crds/ (one source: operator/src/api)", () => {
    const file = 'platform.reservations.dev_reservations.yaml';
    expect(readFileSync(join(repoRoot, 'charts/reservation-operator/crds', file), 'utf8')).toBe(
      readFileSync(join(repoRoot, 'crds', file), 'utf8'),
    );
  });
});
