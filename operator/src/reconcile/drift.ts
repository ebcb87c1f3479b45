import { createHash } from 'node:crypto';
/**
 * Whether the live object already has every field the operator wants, with the same values:
 * then applying would change nothing and the operator writes nothing (an idle operator makes
 * no writes). Fields the server or other tools added are ignored. Lists of named items
 * (containers, env, ports, ...) match by name, as server-side apply merges them, so items
 * another tool added are left alone; other lists must match item for item. Quantities compare
 * by value ("0.5" equals the "500m" the server stores).
 */
export function hasAllFields(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return false;
    if (desired.length > 0 && desired.every(isNamed)) {
      return desired.every((item) =>
        hasAllFields(
          item,
          live.find((l) => isNamed(l) && l.name === item.name),
        ),
      );
    }
    return desired.length === live.length && desired.every((item, i) => hasAllFields(item, live[i]));
  }
  if (isObject(desired)) {
    if (!isObject(live)) return false;
    return Object.entries(desired).every(([key, value]) => value === undefined || hasAllFields(value, live[key]));
  }
  if (typeof desired === 'string' && typeof live === 'string' && desired !== live) {
    const a = quantity(desired);
    const b = quantity(live);
    return a !== undefined && a === b;
  }
  return desired === live;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNamed(value: unknown): value is { name: string } {
  return isObject(value) && typeof value.name === 'string';
}

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** The value of a Kubernetes quantity such as 250m, 0.5 or 128Mi; undefined if it is not one. */
export function quantity(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (!match?.[1]) return undefined;
  const factor = SUFFIX[match[2] ?? ''];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor * 1000) / 1000;
}

/**
 * Set on a cached object by the cache's transform (cache-transform.ts): the digest of the fields
 * the operator owns in it, which is all the cache keeps of them.
 */
export const APPLIED_DIGEST: unique symbol = Symbol('appliedDigest');

/**
 * What applying a desired object was seen to leave of the operator's fields: the same digest
 * unless the server filled in defaults inside a field the operator owns whole (a CRD's atomic
 * list, such as an HTTPRoute's rules).
 */
export interface AppliedOutcome {
  desired: string;
  live: string;
}

/**
 * Whether applying `desired` (without apiVersion and kind) would change nothing in `live`. With
 * the cache's digest, the fields the operator owns must be exactly what it would apply now (the
 * digests match), or what applying that same desired object was seen to leave (`outcome`);
 * without a digest (an object read whole), `hasAllFields` judges.
 */
export function inSync(desired: { metadata: object; [key: string]: unknown }, live: object | undefined, outcome?: AppliedOutcome): boolean {
  if (live === undefined) return false;
  const applied = (live as { [APPLIED_DIGEST]?: string })[APPLIED_DIGEST];
  if (applied === undefined) {
    const { apiVersion: _v, kind: _k, ...fields } = desired;
    return hasAllFields(fields, live);
  }
  const wanted = desiredDigest(desired);
  return wanted === applied || (outcome?.desired === wanted && outcome.live === applied);
}

/** The digest of a desired object as the cache's digest of a live one is taken: without apiVersion, kind, name and namespace. */
export function desiredDigest(desired: { metadata: object; [key: string]: unknown }): string {
  const { apiVersion: _v, kind: _k, ...fields } = desired;
  const { name: _n, namespace: _ns, ...metadata } = desired.metadata as Record<string, unknown>;
  return digest({ ...fields, metadata });
}

/**
 * A short digest of a value's canonical form: equal for what `hasAllFields` takes as equal in
 * both directions (keys in any order, named list items in any order, quantities by value).
 */
export function digest(value: unknown): string {
  return createHash('sha1')
    .update(JSON.stringify(canonical(value)))
    .digest('base64');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    if (value.length > 0 && value.every(isNamed))
      return items.sort((a, b) => ((a as { name: string }).name < (b as { name: string }).name ? -1 : 1));
    return items;
  }
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = canonical(value[key]);
    return out;
  }
  if (typeof value === 'string') {
    const q = quantity(value);
    return q === undefined ? value : `quantity:${q}`;
  }
  return value;
}
