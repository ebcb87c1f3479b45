import { appliedFieldSet, type CacheTransform, project } from '../controller/transform.ts';
import { APPLIED_DIGEST, digest } from './drift.ts';

/** Metadata the reconciler reads whoever set it: identity, version, ownership, holds, deletion. */
const KEPT_METADATA = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'labels',
  'ownerReferences',
  'finalizers',
  'deletionTimestamp',
];

/**
 * What the operator's cache keeps of an object it owns: the metadata above, `status` of the kinds
 * whose status it reads (a Deployment's rollout, an edge's address), a workload's `spec.replicas`
 * (the autoscaler's, read to judge a rollout), and of the fields it applied only their digest
 * (drift.ts `inSync`). The applied fields are most of a live object, and thousands of cached
 * objects are most of the operator's memory. The digest is of what `manager` owns as the API
 * server records it, so a field another tool has since taken over drops out of it: the digests
 * differ and the operator applies again, taking the field back.
 */
export function keepWhatTheReconcilerReads(manager: string, statusOf: ReadonlySet<string>): CacheTransform {
  return (obj) => {
    const owned = appliedFieldSet(obj, manager);
    if (!owned) return; // no managedFields (already cut, or never written with them): kept whole
    const { apiVersion: _v, kind: _k, ...fields } = obj;
    const applied = project(fields, owned);
    const metadata = obj.metadata as Record<string, unknown>;
    const replicas = (obj.spec as { replicas?: unknown } | undefined)?.replicas;
    for (const key of Object.keys(obj)) if (key !== 'apiVersion' && key !== 'kind' && key !== 'metadata') delete obj[key];
    for (const key of Object.keys(metadata)) if (!KEPT_METADATA.includes(key)) delete metadata[key];
    if (statusOf.has(obj.kind) && fields.status !== undefined) obj.status = fields.status;
    if (typeof replicas === 'number') obj.spec = { replicas };
    Object.assign(obj, { [APPLIED_DIGEST]: digest(applied) });
  };
}
