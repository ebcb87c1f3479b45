import { describe, expect, it } from '@jest/globals';
import { liveWeightsError, shareOf, weightsForShare } from '../../src/traffic/weights.ts';

describe('share and weights', () => {
  it('maps a share straight onto the two weights, never both 0', () => {
    expect(weightsForShare(0)).toEqual({ self: 0, peer: 100 });
    expect(weightsForShare(10)).toEqual({ self: 10, peer: 90 });
    expect(weightsForShare(100)).toEqual({ self: 100, peer: 0 });
    for (let share = 0; share <= 100; share++) {
      const { self, peer } = weightsForShare(share);
      expect(self + peer).toBe(100);
      expect(shareOf('green', { green: self, blue: peer })).toBe(share);
    }
  });

  it('refuses shares that are not integer percents, naming the value', () => {
    expect(() => weightsForShare(101)).toThrow('a share must be an integer percent from 0 to 100, not 101');
    expect(() => weightsForShare(-1)).toThrow('not -1');
    expect(() => weightsForShare(12.5)).toThrow('not 12.5');
  });

  it('computes the share Route53 gives for any weights, an even split when all are 0', () => {
    expect(shareOf('green', { green: 1, blue: 3 })).toBe(25);
    expect(shareOf('green', { green: 255, blue: 0 })).toBe(100);
    expect(shareOf('green', { green: 1, blue: 2 })).toBe(33.3);
    expect(shareOf('green', { green: 0, blue: 0 })).toBe(50);
    expect(shareOf('green', { blue: 10 })).toBe(0);
  });
});

describe('live weights of a name', () => {
  it('accepts a set with at least one weight above 0', () => {
    expect(liveWeightsError('api.example.com', { 'eks-green': 0, 'eks-blue': 100 })).toBeUndefined();
    expect(liveWeightsError('api.example.com', { 'eks-green': 255 })).toBeUndefined();
  });

  it('rejects every record at 0, explaining that Route53 would split evenly', () => {
    expect(liveWeightsError('api.example.com', { 'eks-green': 0, 'eks-blue': 0 })).toBe(
      'every weighted record of api.example.com would have weight 0 (eks-blue: 0, eks-green: 0); Route53 then splits ' +
        'traffic evenly between them instead of sending none, so give at least one record a weight above 0 first',
    );
    expect(liveWeightsError('api.example.com', { 'eks-green': 0 })).toContain('would have weight 0 (eks-green: 0)');
  });

  it('rejects weights outside 0-255 or not integers, naming the set identifier', () => {
    expect(liveWeightsError('n', { 'eks-green': 256, 'eks-blue': 1 })).toBe(
      'weight of eks-green must be an integer from 0 to 255, not 256',
    );
    expect(liveWeightsError('n', { 'eks-green': 1.5 })).toBe('weight of eks-green must be an integer from 0 to 255, not 1.5');
  });
});
