import { appliedFieldSet, type CacheTransform, project } from '../controller/transform.ts';
import type { KubeObject } from '../kube/resources.ts';
import { APPLIED_DIGEST, digest } from './drift.ts';

/** Metadata the reconciler reads whoever set it: identity, version, ownership, holds, deletion. */
const KEPT_METADATA = ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'ownerReferences', 'finalizers', 'deletionTimestamp'];

/**
 * What the operator's cache keeps of an object it owns: the metadata above, `status` of the kinds
 * whose status it reads (a Deployment's rollout, an edge's address), a workload's `spec.replicas`
 * (the autoscaler's, read to judge a rollout), and of the fields it applied only their digest
 * (drift.ts `inSync`). The applied fields are most of a live object, and thousands of cached
 * objects are most of the operator's memory. The digest is of what `manager` owns as the API
 * server records it, so a field another tool has since taken over drops out of it: the digests
 * differ and the operator applies again, taking the field back.
 *
 * Dropped fields are set to undefined and metadata is rebuilt rather than `delete`d: V8 turns an
 * object that loses properties into a dictionary, which would keep twice the memory.
 */
export function keepWhatTheReconcilerReads(manager: string, statusOf: ReadonlySet<string>): CacheTransform {
  return (obj) => {
    const applied = appliedDigest(obj, manager);
    if (applied === undefined) return; // no managedFields (already cut, or never written with them): kept whole
    const fields = { status: obj.status };
    const replicas = (obj.spec as { replicas?: unknown } | undefined)?.replicas;
    const metadata: Record<string, unknown> = {};
    for (const key of KEPT_METADATA) if (obj.metadata[key] !== undefined) metadata[key] = obj.metadata[key];
    for (const key of Object.keys(obj)) if (key !== 'apiVersion' && key !== 'kind') obj[key] = undefined;
    obj.metadata = metadata as KubeObject['metadata'];
    if (statusOf.has(obj.kind)) obj.status = fields.status;
    if (typeof replicas === 'number') obj.spec = { replicas };
    Object.assign(obj, { [APPLIED_DIGEST]: applied });
  };
}

/** The digest of the fields `manager` owns in `obj`, as drift.ts `inSync` compares it; undefined without managedFields. */
export function appliedDigest(obj: KubeObject, manager: string): string | undefined {
  const owned = appliedFieldSet(obj, manager);
  if (!owned) return undefined;
  const { apiVersion: _v, kind: _k, ...fields } = obj;
  return digest(project(fields, owned));
}
