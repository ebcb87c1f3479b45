import { describe, expect, it } from '@jest/globals';
import { inOverlap, type SecretColumns, sealedColumns, signingSecrets } from '../../src/domain/endpoint-secrets.ts';
import { parseKeyRing, seal } from '../../src/domain/secret-box.ts';

const ring = parseKeyRing(`k1:${Buffer.alloc(32, 1).toString('base64')}`);
const now = new Date('2030-01-01T10:00:00Z');
const [CURRENT, PREVIOUS] = ['whsec_Y3VycmVudA==', 'whsec_cHJldmlvdXM='];

function row(previousUntil: Date | null): SecretColumns {
  const previous = seal(ring, PREVIOUS, 'acme');
  return {
    ...sealedColumns(ring, 'acme', CURRENT),
    previous_secret_key_id: previousUntil ? previous.keyId : null,
    previous_secret_sealed: previousUntil ? previous.box : null,
    previous_secret_until: previousUntil,
  };
}

describe('the secrets a delivery is signed with', () => {
  it('the current one alone without a rotation', () => {
    expect(signingSecrets(ring, 'acme', row(null), now)).toEqual([CURRENT]);
    expect(inOverlap(row(null), now)).toBe(false);
  });

  it('the current one, then the previous one, during the overlap', () => {
    const during = row(new Date(now.getTime() + 1000));
    expect(inOverlap(during, now)).toBe(true);
    expect(signingSecrets(ring, 'acme', during, now)).toEqual([CURRENT, PREVIOUS]);
  });

  it('the current one alone once the overlap has ended (at its instant, too)', () => {
    expect(signingSecrets(ring, 'acme', row(now), now)).toEqual([CURRENT]);
    expect(signingSecrets(ring, 'acme', row(new Date(now.getTime() - 1)), now)).toEqual([CURRENT]);
  });

  it('a plaintext secret from before sealing, until the sweep seals it; none for a row without a secret', () => {
    const legacy: SecretColumns = { ...row(null), secret: CURRENT, secret_key_id: null, secret_sealed: null };
    expect(signingSecrets(ring, 'acme', legacy, now)).toEqual([CURRENT]);
    expect(signingSecrets(ring, 'acme', { ...legacy, secret: null }, now)).toEqual([]);
  });

  it('refuses (throws) rather than sign without a secret that does not open', () => {
    expect(() => signingSecrets(ring, 'globex', row(null), now)).toThrow(/does not authenticate/);
  });
});
