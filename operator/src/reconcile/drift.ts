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
