import { describe, expect, it } from '@jest/globals';
import { NearCache } from '../src/near-cache.ts';

function coherentCache(options: { maxEntries?: number; maxAgeMs?: number; now?: () => number } = {}) {
  const near = new NearCache<string>({ maxEntries: options.maxEntries ?? 100, maxAgeMs: options.maxAgeMs ?? 60_000, now: options.now });
  near.regain(near.epoch);
  return near;
}

/** A read of Redis that brought back `value`, kept if nothing intervened. */
function fill(near: NearCache<string>, key: string, value: string | undefined) {
  const read = near.begin(key);
  if (read) near.finish(read, value);
}

describe('near cache bookkeeping', () => {
  it('serves nothing until tracking is confirmed, then what a read brought back', () => {
    const near = new NearCache<string>({ maxEntries: 10, maxAgeMs: 60_000 });
    expect(near.begin('k')).toBeUndefined();
    expect(near.get('k')).toBeUndefined();
    near.regain(near.epoch);
    fill(near, 'k', 'v1');
    expect(near.get('k')).toBe('v1');
    expect(near.stats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it('does not keep a miss', () => {
    const near = coherentCache();
    fill(near, 'k', undefined);
    expect(near.get('k')).toBeUndefined();
    expect(near.stats().size).toBe(0);
  });

  it('an invalidation drops the entry', () => {
    const near = coherentCache();
    fill(near, 'a', 'va');
    fill(near, 'b', 'vb');
    near.invalidate(['a']);
    expect(near.get('a')).toBeUndefined();
    expect(near.get('b')).toBe('vb');
    expect(near.stats().invalidations).toBe(1);
  });

  it('a read that an invalidation of its key overtook is not kept (the reply may be the old value)', () => {
    const near = coherentCache();
    const read = near.begin('k');
    if (!read) throw new Error('coherent, so the read is tracked');
    near.invalidate(['k']);
    near.finish(read, 'old');
    expect(near.get('k')).toBeUndefined();
    // The next read, begun after the invalidation, is kept.
    fill(near, 'k', 'new');
    expect(near.get('k')).toBe('new');
  });

  it('concurrent reads of one key: an invalidation during either spoils both', () => {
    const near = coherentCache();
    const first = near.begin('k');
    const second = near.begin('k');
    if (!first || !second) throw new Error('coherent, so reads are tracked');
    near.finish(first, 'v1');
    expect(near.get('k')).toBe('v1');
    near.invalidate(['k']);
    near.finish(second, 'v1');
    expect(near.get('k')).toBeUndefined();
  });

  it('an invalidation of another key does not spoil a read', () => {
    const near = coherentCache();
    const read = near.begin('k');
    if (!read) throw new Error('coherent, so the read is tracked');
    near.invalidate(['other']);
    near.finish(read, 'v');
    expect(near.get('k')).toBe('v');
  });

  it('a lost connection flushes everything, spoils reads in flight and serves nothing until tracking is back', () => {
    const near = coherentCache();
    fill(near, 'a', 'va');
    const inFlight = near.begin('b');
    if (!inFlight) throw new Error('coherent, so the read is tracked');
    near.lose();
    expect(near.coherent).toBe(false);
    expect(near.get('a')).toBeUndefined();
    near.finish(inFlight, 'vb');
    expect(near.begin('b')).toBeUndefined();

    // Tracking confirmed for an epoch that a later loss ended does not count.
    const since = near.epoch;
    near.lose();
    near.regain(since);
    expect(near.coherent).toBe(false);
    near.regain(near.epoch);
    expect(near.coherent).toBe(true);
    expect(near.get('b')).toBeUndefined();
  });

  it('a flush in Redis (null invalidation) drops everything and spoils reads in flight', () => {
    const near = coherentCache();
    fill(near, 'a', 'va');
    const read = near.begin('b');
    if (!read) throw new Error('coherent, so the read is tracked');
    near.invalidate(null);
    near.finish(read, 'vb');
    expect(near.get('a')).toBeUndefined();
    expect(near.get('b')).toBeUndefined();
    expect(near.coherent).toBe(true);
    expect(near.stats().flushes).toBe(1);
  });

  it('an entry past its maximum age is not served', () => {
    let now = 1_000;
    const near = coherentCache({ maxAgeMs: 500, now: () => now });
    fill(near, 'k', 'v');
    now += 500;
    expect(near.get('k')).toBe('v');
    now += 1;
    expect(near.get('k')).toBeUndefined();
    expect(near.stats().size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const near = coherentCache({ maxEntries: 2 });
    fill(near, 'a', 'va');
    fill(near, 'b', 'vb');
    expect(near.get('a')).toBe('va');
    fill(near, 'c', 'vc');
    expect(near.get('b')).toBeUndefined();
    expect(near.get('a')).toBe('va');
    expect(near.get('c')).toBe('vc');
  });
});
