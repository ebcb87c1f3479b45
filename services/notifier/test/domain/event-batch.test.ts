import { describe, expect, it } from '@jest/globals';
import { deliveryPlan, firstOccurrences } from '../../src/domain/event-batch.ts';

describe('firstOccurrences', () => {
  it('takes each new id once, leaving out ids processed before and repeats inside the batch', () => {
    expect(firstOccurrences(['a', 'b', 'a', 'c', 'b'], new Set(['c']))).toEqual([true, true, false, false, false]);
  });

  it('takes nothing from a batch of ids all processed before', () => {
    expect(firstOccurrences(['a', 'b'], new Set(['a', 'b']))).toEqual([false, false]);
  });
});

describe('deliveryPlan', () => {
  const event = (reservationId: string, version: number, providerId = 'p1') => ({ providerId, reservationId, version });

  it('claims a delivery per reservation whose earlier events all went, none for a provider without an endpoint', () => {
    expect(deliveryPlan([event('r1', 1), event('r2', 3), event('r3', 1, 'p2')], new Set(['p1']), new Map())).toEqual([
      'claimed',
      'claimed',
      'none',
    ]);
  });

  it('queues an event behind an earlier one of its reservation in the same batch', () => {
    expect(deliveryPlan([event('r1', 1), event('r1', 2), event('r1', 3)], new Set(['p1']), new Map())).toEqual([
      'claimed',
      'queued',
      'queued',
    ]);
  });

  it('queues an event behind a pending delivery of an earlier version, and claims one past a later pending version', () => {
    expect(
      deliveryPlan(
        [event('r1', 3), event('r2', 1)],
        new Set(['p1']),
        new Map([
          ['r1', 2],
          ['r2', 2],
        ]),
      ),
    ).toEqual(['queued', 'claimed']);
  });
});
