import { describe, expect, it } from '@jest/globals';
import { allocate, generateSeed, MIN_CELL_MS, random, type SeedReservation, sampler, uuid, zipfWeights } from '../src/seed-data.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const small = { resources: 50, reservations: 5000, providers: 7, customers: 400, now: NOW, pastDays: 60, futureDays: 30 };
const all = (options: Parameters<typeof generateSeed>[0]) => {
  const seed = generateSeed(options);
  return { resources: seed.resources, reservations: [...seed.reservations()] };
};

describe('allocate', () => {
  it('splits the total by weight, caps each share and gives what a capped share cannot take to the others', () => {
    const counts = allocate(100, [8, 1, 1], 50);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(counts[0]).toBe(50);
    expect(counts[1]).toBe(25);
    expect(counts[2]).toBe(25);
  });

  it('gives exactly the total even when the shares round down', () => {
    const counts = allocate(7, zipfWeights(5, 1), 100);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(7);
    expect(counts[0]).toBeGreaterThanOrEqual(counts[4] as number);
  });

  it('refuses a total that cannot fit', () => {
    expect(() => allocate(11, [1, 1], 5)).toThrow('11 do not fit in 2 × 5');
  });
});

describe('random, uuid and sampler', () => {
  it('the same seed gives the same sequence, another seed another', () => {
    const [a, b, c] = [random(7), random(7), random(8)];
    const seq = (r: () => number) => Array.from({ length: 5 }, r);
    const first = seq(a);
    expect(seq(b)).toEqual(first);
    expect(seq(c)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('uuids are lowercase version 4', () => {
    const r = random(1);
    for (let i = 0; i < 100; i++) expect(uuid(r)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('draws indexes in proportion to their weights', () => {
    const draw = sampler([3, 1, 0], random(3));
    const counts = [0, 0, 0];
    for (let i = 0; i < 20_000; i++) {
      const n = draw();
      counts[n] = (counts[n] ?? 0) + 1;
    }
    expect(counts[2]).toBe(0);
    expect((counts[0] as number) / (counts[1] as number)).toBeGreaterThan(2.5);
    expect((counts[0] as number) / (counts[1] as number)).toBeLessThan(3.5);
  });
});

describe('generateSeed', () => {
  it('is deterministic: the same options give the same rows, another seed other rows', () => {
    const a = all({ ...small, seed: 5 });
    expect(all({ ...small, seed: 5 })).toEqual(a);
    expect(all({ ...small, seed: 6 }).reservations[0]?.id).not.toBe(a.reservations[0]?.id);
  });

  const { resources, reservations } = all(small);
  const byResource = new Map<string, SeedReservation[]>();
  for (const r of reservations) byResource.set(r.resourceId, [...(byResource.get(r.resourceId) ?? []), r]);

  it('makes as many as asked, a few hot resources and a cold tail, ids unique', () => {
    expect(resources).toHaveLength(50);
    expect(reservations).toHaveLength(5000);
    expect(new Set(reservations.map((r) => r.id)).size).toBe(5000);
    const counts = resources.map((r) => byResource.get(r.id)?.length ?? 0);
    expect(counts[0]).toBeGreaterThan(10 * (counts[49] as number));
    expect(counts.every((n) => n > 0)).toBe(true);
  });

  it('never overlaps two reservations of a resource, whatever their status, and keeps each resource’s longest window', () => {
    for (const resource of resources) {
      const rows = [...(byResource.get(resource.id) ?? [])].sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
      for (let i = 1; i < rows.length; i++) {
        expect((rows[i] as SeedReservation).startsAt.getTime()).toBeGreaterThanOrEqual((rows[i - 1] as SeedReservation).endsAt.getTime());
      }
      const longest = Math.max(...rows.map((r) => r.endsAt.getTime() - r.startsAt.getTime()));
      expect(resource.longestMs).toBe(longest);
    }
    expect(reservations.every((r) => r.endsAt > r.startsAt && r.endsAt.getTime() - r.startsAt.getTime() >= MIN_CELL_MS / 3)).toBe(true);
  });

  it('spreads times over the past and the future, with the provider of the resource', () => {
    const from = NOW.getTime() - 60 * 86_400_000;
    const to = NOW.getTime() + 30 * 86_400_000;
    expect(reservations.every((r) => r.startsAt.getTime() >= from - 300_000 && r.endsAt.getTime() <= to)).toBe(true);
    expect(reservations.filter((r) => r.startsAt < NOW).length).toBeGreaterThan(2500);
    expect(reservations.filter((r) => r.startsAt > NOW).length).toBeGreaterThan(1000);
    const providers = new Map(resources.map((r) => [r.id, r.providerId]));
    expect(reservations.every((r) => r.providerId === providers.get(r.resourceId))).toBe(true);
    expect(new Set(resources.map((r) => r.providerId)).size).toBe(7);
  });

  it('mixes statuses: confirmed, cancelled, expired holds, and holds still running (at most 5 per customer, in the future)', () => {
    const of = (status: string) => reservations.filter((r) => r.status === status);
    expect(of('confirmed').length).toBeGreaterThan(4000);
    expect(of('cancelled').length).toBeGreaterThan(300);
    const holds = of('held');
    const running = holds.filter((h) => (h.expiresAt as Date) > NOW);
    expect(holds.length - running.length).toBeGreaterThan(100);
    expect(running.every((h) => h.startsAt > NOW && h.createdAt <= NOW)).toBe(true);
    const perCustomer = new Map<string, number>();
    for (const h of running) perCustomer.set(h.customerId, (perCustomer.get(h.customerId) ?? 0) + 1);
    expect(Math.max(0, ...perCustomer.values())).toBeLessThanOrEqual(5);
    expect(holds.every((h) => h.expiresAt !== null && h.expiresAt > h.createdAt)).toBe(true);
    expect(reservations.filter((r) => r.status !== 'held').every((r) => r.expiresAt === null)).toBe(true);
  });

  it('refuses options it cannot honour, naming them', () => {
    expect(() => generateSeed({ ...small, resources: 0 })).toThrow('resources must be a whole number ≥ 1');
    expect(() => generateSeed({ ...small, reservations: -1 })).toThrow('reservations must be a whole number ≥ 0');
    expect(() => generateSeed({ ...small, resources: 1, reservations: 1_000_000 })).toThrow(
      /^reservations: 1000000 do not fit on 1 resources/,
    );
  });
});
