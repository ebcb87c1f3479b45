import type { KubeObject } from '../kube/resources.ts';

/**
 * What an informer does to each object at the cache's door (controller-runtime's
 * `cache.Options.DefaultTransform`): it takes the object as the API server sent it, before
 * anything reads it, and returns what the cache keeps (the object itself, changed, or a new one).
 */
export type CacheTransform = (obj: KubeObject) => KubeObject;

/**
 * managedFields are often the biggest part of an object and nothing that reads a cache needs them
 * (controller-runtime's TransformStripManagedFields).
 */
export const stripManagedFields: CacheTransform = (obj) => {
  delete obj.metadata.managedFields;
  return obj;
};

/** A server-side apply field set (`fieldsV1`): `f:<field>`, `k:<key JSON>`, `v:<value JSON>`, `i:<index>`, `.`. */
export type FieldSet = { [path: string]: FieldSet };

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: FieldSet;
}

/**
 * The fields `manager` owns by server-side apply, as the API server records them; `{}` if it owns
 * none, undefined when the object carries no managedFields (so nothing says what anyone owns).
 */
export function appliedFieldSet(obj: KubeObject, manager: string): FieldSet | undefined {
  const entries = obj.metadata.managedFields as ManagedFieldsEntry[] | undefined;
  if (!entries) return undefined;
  return entries.find((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource)?.fieldsV1 ?? {};
}

/** `value` cut down to `fields`; a field set without children owns the whole value. */
export function project(value: unknown, fields: FieldSet): unknown {
  const children = Object.keys(fields).filter((k) => k !== '.');
  if (children.length === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const kept: unknown[] = [];
    for (const [index, item] of value.entries()) {
      const path = children.find((c) => itemMatches(c, item, index));
      if (path) kept.push(project(item, fields[path] as FieldSet));
    }
    return kept;
  }
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const child of children) {
    if (!child.startsWith('f:')) continue;
    const name = child.slice(2);
    if (name in record) out[name] = project(record[name], fields[child] as FieldSet);
  }
  return out;
}

/** Whether a list item is the one a field-set path names: by its keys, its value or its index. */
function itemMatches(path: string, item: unknown, index: number): boolean {
  const body = path.slice(2);
  if (path.startsWith('i:')) return Number(body) === index;
  if (path.startsWith('v:')) return sameJson(JSON.parse(body), item);
  if (path.startsWith('k:')) {
    if (item === null || typeof item !== 'object') return false;
    const key = JSON.parse(body) as Record<string, unknown>;
    return Object.entries(key).every(([k, v]) => sameJson(v, (item as Record<string, unknown>)[k]));
  }
  return false;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
