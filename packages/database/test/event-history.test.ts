import { describe, expect, it } from '@jest/globals';
import { streamPositions } from '../src/event-history.ts';

describe('streamPositions', () => {
  it('numbers each provider’s entries in order, ending at the number its batch took last', () => {
    expect(
      streamPositions(
        ['a', 'b', 'a', 'a', 'b'],
        new Map([
          ['a', 12],
          ['b', 2],
        ]),
      ),
    ).toEqual([10, 1, 11, 12, 2]);
  });

  it('refuses a provider that took no number', () => {
    expect(() => streamPositions(['a', 'c'], new Map([['a', 1]]))).toThrow('provider c: no stream position was taken');
  });
});
