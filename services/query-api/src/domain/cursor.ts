/** Where a page ended: the sort key of its last row (startsAt, then id as the tie-breaker). */
export interface Cursor {
  startsAt: string;
  id: string;
}

/** Opaque to clients (base64url of JSON): they pass it back, they do not build it. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.startsAt, cursor.id])).toString('base64url');
}

/** The cursor, or `undefined` for anything this API did not hand out. */
export function decodeCursor(raw: string): Cursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [startsAt, id] = value;
    if (typeof startsAt !== 'string' || Number.isNaN(Date.parse(startsAt)) || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
      return undefined;
    }
    return { startsAt, id };
  } catch {
    return undefined;
  }
}
