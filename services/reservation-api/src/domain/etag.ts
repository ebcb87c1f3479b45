/** A strong ETag from a row version (RFC 9110 §8.8.3). */
export function etag(version: number): string {
  return `"${version}"`;
}

/**
 * The version an If-Match header names, `undefined` when absent, `null` when it names no
 * single version (a list, `*` or garbage), which the caller treats as not matching.
 */
export function ifMatchVersion(header: string | undefined): number | undefined | null {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,10})"?\s*$/.exec(header);
  return match ? Number(match[1]) : null;
}
