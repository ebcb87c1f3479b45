import { createSigner } from 'fast-jwt';
import type { Role } from './auth.ts';

export interface TokenMinterOptions {
  issuer: string;
  audience: string;
  /** An HS256 secret, or the issuer's private key (PEM) with its algorithm and the `kid` its JWKS lists it under. */
  key: { secret: string } | { privateKey: string; algorithm?: 'RS256' | 'ES256'; kid?: string };
  /** Lifetime of a token (`exp` - `iat`). */
  ttlSeconds?: number;
  now?: () => number;
}

/** A token's claims; `iss`, `aud`, `iat` and `exp` default to the minter's, and `undefined` leaves one out. */
export type MintClaims = { sub: string; role: Role | string } & Record<string, unknown>;

/**
 * Mints tokens as the identity provider the services trust issues them (`iss`, `aud`, `iat`,
 * `exp`, and `kid` in the header when given): for local use (mint-token), the playground, the
 * benchmarks and the tests, which all need a token the services accept. Synchronous, so a test
 * can build headers inline.
 */
export function createTokenMinter({ issuer, audience, key, ttlSeconds = 3600, now = Date.now }: TokenMinterOptions) {
  const signer = (noTimestamp: boolean) =>
    'secret' in key
      ? createSigner({ key: key.secret, algorithm: 'HS256', noTimestamp })
      : createSigner({ key: key.privateKey, algorithm: key.algorithm ?? 'RS256', noTimestamp, ...(key.kid ? { kid: key.kid } : {}) });
  // fast-jwt writes `iat` (the payload's, else its clock's) unless told not to: a token without one takes the second signer.
  const [sign, signWithoutIat] = [signer(false), signer(true)];
  return (claims: MintClaims): string => {
    const iat = Math.floor(now() / 1000);
    const payload: Record<string, unknown> = { iss: issuer, aud: audience, iat, exp: iat + ttlSeconds, ...claims };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return 'iat' in payload ? sign(payload) : signWithoutIat(payload);
  };
}
