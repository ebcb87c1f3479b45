import { appliedFieldSet, type CacheTransform, project } from '../controller/transform.ts';
import type { KubeObject, OwnerReference } from '../kube/resources.ts';
import { APPLIED_DIGEST, digest } from './drift.ts';

/**
 * What the operator's cache keeps of an object it owns: the metadata the reconciler reads whoever
 * set it (identity, version, ownership, holds, deletion), `status` of the kinds whose status it
 * reads (a Deployment's rollout, an edge's address), a workload's `spec.replicas` (the
 * autoscaler's, read to judge a rollout), and of the fields it applied only their digest
 * (drift.ts `inSync`). The applied fields are most of a live object, and thousands of cached
 * objects are most of the operator's memory. The digest is of what `manager` owns as the API
 * server records it, so a field another tool has since taken over drops out of it: the digests
 * differ and the operator applies again, taking the field back.
 *
 * The kept object is a new one of one shape for every kind (absent fields undefined), not the
 * parsed object cut down: V8 then shares one hidden class among them all and stores every field
 * in the object itself, where a cut-down object kept its parsed shape (one per kind) and an
 * out-of-object array for the digest added to it (and became a dictionary, had its fields been
 * `delete`d). The owner references' group and kind, the same in nearly every object, are kept as
 * one string each.
 */
export function keepWhatTheReconcilerReads(manager: string, statusOf: ReadonlySet<string>): CacheTransform {
  return (obj) => {
    const applied = appliedDigest(obj, manager);
    if (applied === undefined) return obj; // no managedFields (already cut, or never written with them): kept whole
    const { metadata } = obj;
    const replicas = (obj.spec as { replicas?: unknown } | undefined)?.replicas;
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resourceVersion: metadata.resourceVersion,
        generation: metadata.generation,
        ownerReferences: metadata.ownerReferences?.map(sharedOwnerReference),
        finalizers: metadata.finalizers,
        deletionTimestamp: metadata.deletionTimestamp,
      },
      spec: typeof replicas === 'number' ? { replicas } : undefined,
      status: statusOf.has(obj.kind) ? obj.status : undefined,
      [APPLIED_DIGEST]: applied,
    };
  };
}

/** One string per owner group and kind seen (a handful), rather than a copy in each object; capped against an odd cluster. */
const ownerTypes = new Map<string, string>();
function shared(s: string): string {
  const known = ownerTypes.get(s);
  if (known !== undefined) return known;
  if (ownerTypes.size < 64) ownerTypes.set(s, s);
  return s;
}

function sharedOwnerReference({ apiVersion, kind, name, uid, controller, blockOwnerDeletion }: OwnerReference): OwnerReference {
  return { apiVersion: shared(apiVersion), kind: shared(kind), name, uid, controller, blockOwnerDeletion };
}

/** The digest of the fields `manager` owns in `obj`, as drift.ts `inSync` compares it; undefined without managedFields. */
export function appliedDigest(obj: KubeObject, manager: string): string | undefined {
  const owned = appliedFieldSet(obj, manager);
  if (!owned) return undefined;
  const { apiVersion: _v, kind: _k, ...fields } = obj;
  return digest(project(fields, owned));
}
