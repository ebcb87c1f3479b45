import { describe, expect, it } from '@jest/globals';
import { bearerToken } from '../src/auth.ts';

describe('bearerToken (RFC 6750 §2.1)', () => {
  it('takes the token of a Bearer header, whatever the scheme’s case', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('bearer a-b_c.d~e+f/g==')).toBe('a-b_c.d~e+f/g==');
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic YTpi', 'Bearer a b', 'Bearer a,b'])('%p is a 401', (header) => {
    expect(() => bearerToken(header)).toThrow(expect.objectContaining({ status: 401, code: 'unauthorized' }));
  });
});
