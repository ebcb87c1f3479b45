/**
 * Weight arithmetic for Route53 weighted records (pure).
 *
 * Route53 sends each record `weight / sum of weights` of the answers; weights are integers
 * 0-255, and when every record of the name has weight 0 it answers with all of them equally
 * (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html).
 * So "0 everywhere" does not mean "no traffic": it means an even split, and a weight change that
 * leads there is refused.
 *
 * During a cutover this cluster's share `s` (integer percent) maps straight onto the two weights
 * `s` and `100 - s`: exact, both in range, and never both 0.
 */

export const MAX_WEIGHT = 255;

/** Weights by set identifier. */
export type Weights = Readonly<Record<string, number>>;

export function weightError(setIdentifier: string, weight: number): string | undefined {
  if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
    return `weight of ${setIdentifier} must be an integer from 0 to ${MAX_WEIGHT}, not ${weight}`;
  }
  return undefined;
}

export function shareError(share: number): string | undefined {
  if (!Number.isInteger(share) || share < 0 || share > 100) return `a share must be an integer percent from 0 to 100, not ${share}`;
  return undefined;
}

/** This cluster's and the peer's weight during a cutover. */
export interface ShareWeights {
  self: number;
  peer: number;
}

/** The two weights that give this cluster `share` percent of the answers. */
export function weightsForShare(share: number): ShareWeights {
  const error = shareError(share);
  if (error) throw new RangeError(error);
  return { self: share, peer: 100 - share };
}

/**
 * This cluster's share, in percent, of the answers Route53 gives for these weights, rounded to
 * a tenth; when every weight is 0 Route53 splits evenly, and that is what this returns.
 */
export function shareOf(setIdentifier: string, weights: Weights): number {
  const ids = Object.keys(weights);
  if (!ids.includes(setIdentifier)) return 0;
  const total = ids.reduce((sum, id) => sum + (weights[id] ?? 0), 0);
  const share = total === 0 ? 100 / ids.length : ((weights[setIdentifier] ?? 0) * 100) / total;
  return Math.round(share * 10) / 10;
}

/**
 * Why the record set of a name must not take these weights, or undefined when it may. `weights`
 * holds every live record of the name (set identifier → weight) as it would be after the change.
 */
export function liveWeightsError(name: string, weights: Weights): string | undefined {
  const ids = Object.keys(weights).sort();
  for (const id of ids) {
    const error = weightError(id, weights[id] as number);
    if (error) return error;
  }
  if (ids.length > 0 && ids.every((id) => weights[id] === 0)) {
    const listed = ids.map((id) => `${id}: 0`).join(', ');
    return (
      `every weighted record of ${name} would have weight 0 (${listed}); Route53 then splits traffic evenly ` +
      'between them instead of sending none, so give at least one record a weight above 0 first'
    );
  }
  return undefined;
}
