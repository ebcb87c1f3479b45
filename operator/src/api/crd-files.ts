import { stringify } from 'yaml';
import { reservationCrd } from './crd.ts';

const HEADER = '# Generated from operator/src/api by `npm run generate:crds`; do not edit.\n';

/** Each CRD as the file it is kept in under crds/ (kubebuilder's <group>_<plural>.yaml). */
export function crdFiles(): { file: string; yaml: string }[] {
  const crd = reservationCrd();
  return [{ file: `${crd.spec.group}_${crd.spec.names.plural}.yaml`, yaml: HEADER + stringify(crd, { lineWidth: 0 }) }];
}
export { reservationCrd, toStructuralSchema } from './crd.ts';
