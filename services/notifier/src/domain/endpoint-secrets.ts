import { type KeyRing, open, type Sealed, seal } from './secret-box.ts';

/**
 * An endpoint's signing secrets as `webhook_endpoints` keeps them: the current one sealed (see
 * secret-box.ts), and during a rotation's overlap the previous one, sealed, with the instant it
 * stops signing. `secret` is a plaintext secret from before secrets were sealed (or written by a
 * notifier of that age during an upgrade): read until the sweep seals it.
 */
export interface SecretColumns {
  secret: string | null;
  secret_key_id: string | null;
  secret_sealed: Buffer | null;
  previous_secret_key_id: string | null;
  previous_secret_sealed: Buffer | null;
  previous_secret_until: Date | null;
}

export const SECRET_COLUMN_NAMES = [
  'secret',
  'secret_key_id',
  'secret_sealed',
  'previous_secret_key_id',
  'previous_secret_sealed',
  'previous_secret_until',
] as const satisfies readonly (keyof SecretColumns)[];

const sealedOf = (keyId: string | null, box: Buffer | null): Sealed | undefined => (keyId && box ? { keyId, box } : undefined);

export const currentSealed = (row: SecretColumns) => sealedOf(row.secret_key_id, row.secret_sealed);
export const previousSealed = (row: SecretColumns) => sealedOf(row.previous_secret_key_id, row.previous_secret_sealed);

/** Whether a rotation's overlap is under way at `now`: the previous secret still signs. */
export const inOverlap = (row: SecretColumns, now: Date) =>
  previousSealed(row) !== undefined && row.previous_secret_until !== null && row.previous_secret_until.getTime() > now.getTime();

/**
 * The secrets a delivery is signed with at `now`: the current one, then the previous one while
 * its overlap lasts (a receiver that still has only the old secret keeps verifying). Throws a
 * SecretBoxError when a box does not open; empty when the row has no secret at all.
 */
export function signingSecrets(ring: KeyRing, providerId: string, row: SecretColumns, now: Date): string[] {
  const current = currentSealed(row);
  const secrets = current ? [open(ring, current, providerId)] : row.secret ? [row.secret] : [];
  const previous = previousSealed(row);
  if (previous && inOverlap(row, now)) secrets.push(open(ring, previous, providerId));
  return secrets;
}

/** The columns that store `secret` as the current one, sealed, with no previous one (a new endpoint, or the end of an overlap). */
export function sealedColumns(ring: KeyRing, providerId: string, secret: string) {
  const { keyId, box } = seal(ring, secret, providerId);
  return { secret: null, secret_key_id: keyId, secret_sealed: box };
}
