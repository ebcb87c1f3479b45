import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@reservations/service-kit';
import { open, parseKeyRing, rewrap, SecretBoxError, seal } from '../../src/domain/secret-box.ts';

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const SECRET = 'whsec_c2VjcmV0LXRoYXQtaXMtdGhpcnR5LXR3by1ieXRlcy1sb25nIQ==';

describe('WEBHOOK_SECRET_KEYS', () => {
  it('the first key seals, every key is kept', () => {
    const ring = parseKeyRing(`new:${key(2)}, old:${key(1)}`);
    expect(ring.primaryId).toBe('new');
    expect([...ring.keys.keys()]).toEqual(['new', 'old']);
    expect(ring.keys.get('old')).toEqual(Buffer.alloc(32, 1));
  });

  it.each([
    ['empty', '', /entry 1 must be id:base64key/],
    ['no id', key(1), /entry 1 must be id:base64key/],
    ['an id with a space', `my key:${key(1)}`, /entry 1 must be id:base64key/],
    ['a 16-byte key', `a:${Buffer.alloc(16).toString('base64')}`, /entry 1 \(key id a\) must be 32 bytes in base64/],
    ['a 33-byte key', `a:${Buffer.alloc(33).toString('base64')}`, /entry 1 \(key id a\) must be 32 bytes/],
    ['a key that is not base64', `a:${'!'.repeat(44)}`, /entry 1 \(key id a\) must be 32 bytes/],
    ['an empty key', 'a:', /entry 1 \(key id a\) must be 32 bytes/],
    ['a trailing comma', `a:${key(1)},`, /entry 2 must be id:base64key/],
    ['a duplicate id', `a:${key(1)},a:${key(2)}`, /entry 2: key id a is listed twice/],
  ])('refuses %s with a ConfigError naming the variable, never the value', (_what, list, message) => {
    let thrown: unknown;
    try {
      parseKeyRing(list);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toMatch(/^WEBHOOK_SECRET_KEYS \(value hidden\): /);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain(key(1));
  });
});

describe('sealing a webhook secret (envelope, AES-256-GCM)', () => {
  const ring = parseKeyRing(`k1:${key(1)}`);

  it('opens to the secret, for the same provider; the box holds no plaintext and differs each time', () => {
    const sealed = seal(ring, SECRET, 'acme');
    expect(sealed.keyId).toBe('k1');
    expect(open(ring, sealed, 'acme')).toBe(SECRET);
    expect(sealed.box.includes(Buffer.from(SECRET))).toBe(false);
    expect(sealed.box.includes(Buffer.from(SECRET.slice(6), 'base64'))).toBe(false);
    expect(seal(ring, SECRET, 'acme').box.equals(sealed.box)).toBe(false);
  });

  it.each([
    ['a flipped bit in the wrapped data key', 20],
    ['a flipped bit in the secret’s IV', 62],
    ['a flipped bit in the secret’s tag', 80],
    ['a flipped bit in the secret’s ciphertext', -1],
  ])('refuses %s', (_what, at) => {
    const { keyId, box } = seal(ring, SECRET, 'acme');
    const tampered = Buffer.from(box);
    const i = at < 0 ? tampered.length + at : at;
    tampered[i] = (tampered[i] as number) ^ 1;
    expect(() => open(ring, { keyId, box: tampered }, 'acme')).toThrow(SecretBoxError);
    expect(() => open(ring, { keyId, box: tampered }, 'acme')).toThrow(/does not authenticate: it was altered/);
  });

  it('refuses a truncated box, and a box moved to another provider’s row', () => {
    const sealed = seal(ring, SECRET, 'acme');
    expect(() => open(ring, { ...sealed, box: sealed.box.subarray(0, 30) }, 'acme')).toThrow(/truncated/);
    expect(() => open(ring, sealed, 'globex')).toThrow(/the data key of globex does not authenticate/);
  });

  it('refuses an unknown key id, naming it and the variable', () => {
    const sealed = seal(ring, SECRET, 'acme');
    expect(() => open(parseKeyRing(`k2:${key(2)}`), sealed, 'acme')).toThrow(
      new SecretBoxError('the secret of acme is sealed with key id k1, which WEBHOOK_SECRET_KEYS does not list'),
    );
  });

  it('opens a box once per ring', () => {
    const mine = parseKeyRing(`k1:${key(1)}`);
    const sealed = seal(mine, SECRET, 'acme');
    expect(open(mine, sealed, 'acme')).toBe(SECRET);
    // Opened before: no decryption now, even without the key (a ring's keys never change in a process).
    (mine.keys as Map<string, Buffer>).delete('k1');
    expect(open(mine, sealed, 'acme')).toBe(SECRET);
    // Another ring decrypts for itself.
    expect(() => open(parseKeyRing(`k2:${key(2)}`), sealed, 'acme')).toThrow(/does not list/);
  });

  it('still refuses, after opening a box, its altered copy and its move to another row', () => {
    const mine = parseKeyRing(`k1:${key(1)}`);
    const sealed = seal(mine, SECRET, 'acme');
    expect(open(mine, sealed, 'acme')).toBe(SECRET);
    const tampered = Buffer.from(sealed.box);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect(() => open(mine, { ...sealed, box: tampered }, 'acme')).toThrow(/does not authenticate: it was altered/);
    expect(() => open(mine, sealed, 'globex')).toThrow(/the data key of globex does not authenticate/);
  });

  it('refuses a box relabelled with another configured key id', () => {
    const both = parseKeyRing(`k2:${key(2)},k1:${key(1)}`);
    const sealed = seal(both, SECRET, 'acme');
    expect(() => open(both, { ...sealed, keyId: 'k1' }, 'acme')).toThrow(/does not authenticate/);
  });
});

describe('re-wrapping under a new KEK', () => {
  it('moves the data key to the first KEK, leaves the secret’s ciphertext as it was, and opens without the old KEK', () => {
    const old = parseKeyRing(`k1:${key(1)}`);
    const sealed = seal(old, SECRET, 'acme');
    const rotated = parseKeyRing(`k2:${key(2)},k1:${key(1)}`);
    expect(open(rotated, sealed, 'acme')).toBe(SECRET); // the old KEK still opens meanwhile
    const moved = rewrap(rotated, sealed, 'acme');
    expect(moved?.keyId).toBe('k2');
    expect(moved?.box.subarray(60).equals(sealed.box.subarray(60))).toBe(true);
    expect(open(parseKeyRing(`k2:${key(2)}`), moved as never, 'acme')).toBe(SECRET);
    expect(rewrap(rotated, moved as never, 'acme')).toBeUndefined();
  });

  it('refuses to re-wrap what does not open', () => {
    const sealed = seal(parseKeyRing(`k1:${key(1)}`), SECRET, 'acme');
    expect(() => rewrap(parseKeyRing(`k2:${key(2)}`), sealed, 'acme')).toThrow(/key id k1, which WEBHOOK_SECRET_KEYS does not list/);
  });
});
