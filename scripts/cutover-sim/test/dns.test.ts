import { describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import { cachedRecordSource, cachingResolver, clientConnection, route53WeightedAnswerStandIn, type WeightedRecord } from '../dns.ts';

const record = (setIdentifier: string, weight: number, ttlSeconds = 5): WeightedRecord => ({
  setIdentifier,
  weight,
  value: `${setIdentifier}.elb.sim.local`,
  ttlSeconds,
});

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

describe('route53WeightedAnswerStandIn', () => {
  const blue = record('blue', 75);
  const green = record('green', 25);

  it('answers each record for its slice of the weights, in order', () => {
    const pick = (r: number) => route53WeightedAnswerStandIn([blue, green], () => r).setIdentifier;
    expect(pick(0)).toBe('blue');
    expect(pick(0.7499)).toBe('blue');
    expect(pick(0.75)).toBe('green');
    expect(pick(0.9999999)).toBe('green');
  });

  it('gives each record weight / sum of the answers over an even spread of random values', () => {
    const counts = { blue: 0, green: 0 } as Record<string, number>;
    for (let i = 0; i < 1000; i++) {
      const answer = route53WeightedAnswerStandIn([blue, green], () => i / 1000);
      counts[answer.setIdentifier] = (counts[answer.setIdentifier] ?? 0) + 1;
    }
    expect(counts).toEqual({ blue: 750, green: 250 });
  });

  it('never answers a record of weight 0 while another has weight', () => {
    const random = sequence(0, 0.3, 0.99);
    for (let i = 0; i < 3; i++)
      expect(route53WeightedAnswerStandIn([record('blue', 0), record('green', 100)], random).setIdentifier).toBe('green');
  });

  it('answers every record equally when all have weight 0 (Route53’s rule)', () => {
    const records = [record('blue', 0), record('green', 0)];
    expect(route53WeightedAnswerStandIn(records, () => 0.2).setIdentifier).toBe('blue');
    expect(route53WeightedAnswerStandIn(records, () => 0.7).setIdentifier).toBe('green');
  });

  it('refuses to answer without records', () => {
    expect(() => route53WeightedAnswerStandIn([], Math.random)).toThrow('no weighted record');
  });
});

describe('cachingResolver', () => {
  it('keeps an answer for the record’s TTL, then asks again', async () => {
    let now = 0;
    const answers = [record('blue', 100, 5), record('green', 100, 5), record('blue', 100, 5)];
    let asked = 0;
    const resolve = cachingResolver(
      async () => answers[asked++] as WeightedRecord,
      () => now,
      () => 0.5,
    );
    // The first answer as if cached for a while already: half its TTL left.
    expect(await resolve()).toBe('blue.elb.sim.local');
    now = 2499;
    expect(await resolve()).toBe('blue.elb.sim.local');
    expect(asked).toBe(1);
    now = 2500;
    expect(await resolve()).toBe('green.elb.sim.local');
    now = 7499;
    expect(await resolve()).toBe('green.elb.sim.local');
    expect(asked).toBe(2);
    now = 7500;
    expect(await resolve()).toBe('blue.elb.sim.local');
  });
});

describe('clientConnection', () => {
  it('a DNS-following client goes wherever its resolver says on every request', async () => {
    const hosts = ['blue', 'green'];
    let i = 0;
    const connection = clientConnection(
      async () => hosts[i++ % 2] as string,
      undefined,
      () => 0,
    );
    expect([await connection.hostname(), await connection.hostname()]).toEqual(['blue', 'green']);
  });

  it('a keep-alive client keeps its connection for the hold whatever DNS says, and resolves again after it or a drop', async () => {
    let now = 0;
    let answer = 'blue';
    const connection = clientConnection(
      async () => answer,
      15_000,
      () => now,
      () => 0.2,
    );
    expect(await connection.hostname()).toBe('blue');
    expect(connection.opened).toBe(1);
    answer = 'green';
    now = 2999; // the first connection: a random part (0.2) of the hold
    expect(await connection.hostname()).toBe('blue');
    now = 3000;
    expect(await connection.hostname()).toBe('green');
    answer = 'blue';
    now = 17_999; // then the whole hold
    expect(await connection.hostname()).toBe('green');
    expect(connection.opened).toBe(2);
    connection.drop();
    expect(await connection.hostname()).toBe('blue');
    expect(connection.opened).toBe(3);
  });
});

describe('cachedRecordSource', () => {
  it('reads the records at most once per max age, and callers during a read share it', async () => {
    let now = 0;
    let reads = 0;
    const source = cachedRecordSource(
      async () => {
        reads += 1;
        return [record('blue', reads)];
      },
      1000,
      () => now,
    );
    const [a, b] = await Promise.all([source(), source()]);
    expect(a).toBe(b);
    expect(reads).toBe(1);
    now = 999;
    expect((await source())[0]?.weight).toBe(1);
    expect(reads).toBe(1);
  });

  it('gives the records it has at once while a due read runs, and the read’s once it is back', async () => {
    let now = 0;
    let reads = 0;
    let finish: () => void = () => {};
    const source = cachedRecordSource(
      async () => {
        reads += 1;
        if (reads > 1) await new Promise<void>((resolve) => (finish = resolve));
        return [record('blue', reads)];
      },
      1000,
      () => now,
    );
    await source();
    now = 1000;
    expect((await source())[0]?.weight).toBe(1); // due: the read starts, the answer does not wait for it
    expect((await source())[0]?.weight).toBe(1); // the same read, not another
    expect(reads).toBe(2);
    finish();
    await waitUntil('the read is back', async () => (await source())[0]?.weight === 2);
    expect(reads).toBe(2);
  });

  it('past the stale limit callers wait for the read, and a failed read is theirs', async () => {
    let now = 0;
    let fail = false;
    const source = cachedRecordSource(
      async () => {
        if (fail) throw new Error('moto is down');
        return [record('blue', 100)];
      },
      1000,
      () => now,
      5000,
    );
    await source();
    fail = true;
    now = 2000;
    expect(await source()).toHaveLength(1); // stale, given while the (failing) read runs
    now = 5000;
    await expect(source()).rejects.toThrow('moto is down');
  });

  it('a failed read is not cached: the next call reads again', async () => {
    let fail = true;
    const source = cachedRecordSource(async () => {
      if (fail) throw new Error('moto is down');
      return [record('blue', 100)];
    }, 1000);
    await expect(source()).rejects.toThrow('moto is down');
    fail = false;
    expect(await source()).toHaveLength(1);
  });
});
