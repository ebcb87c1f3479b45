import { describe, expect, it } from '@jest/globals';
import { sendable } from '../../src/domain/relay-order.ts';

const row = (id: number, aggregate: string) => ({ id: String(id), aggregate_type: 'reservation', aggregate_id: aggregate });

describe('the relay sends a row only after every earlier unsent row of its aggregate', () => {
  it('sends the whole batch when it holds each aggregate’s earliest rows', () => {
    const batch = [row(1, 'a'), row(2, 'b'), row(3, 'a')];
    expect(sendable(batch, batch)).toEqual(batch);
  });

  it('holds back rows behind an earlier row another relay has locked', () => {
    const batch = [row(1, 'a'), row(5, 'b'), row(7, 'b')];
    const unsent = [...batch, row(4, 'b')];
    expect(sendable(batch, unsent)).toEqual([row(1, 'a')]);
  });

  it('sends rows that come before another relay’s row of the same aggregate', () => {
    const batch = [row(2, 'a'), row(9, 'a')];
    expect(sendable(batch, [...batch, row(5, 'a')])).toEqual([row(2, 'a')]);
  });

  it('compares ids as numbers, not strings', () => {
    const batch = [row(10, 'a')];
    expect(sendable(batch, [...batch, row(9, 'a')])).toEqual([]);
  });
});
