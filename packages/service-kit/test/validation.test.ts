import { describe, expect, it } from '@jest/globals';
import { createValidatorCompiler, isInstant } from '../src/validation.ts';

describe('isInstant', () => {
  it.each([
    '2033-01-01T10:00:00Z',
    '2033-01-01T10:00:00.123+02:00',
    '2032-02-29T00:00:00-05:30', // a leap day
    '1000-01-01T00:00:00Z', // the first instant MySQL's DATETIME holds
    '9999-12-31T23:59:59.999Z', // its last
  ])('takes %s', (value) => {
    expect(isInstant(value)).toBe(true);
  });

  it.each([
    ['2032-12-31T23:59:60Z', 'a leap second: RFC 3339 allows it, Date cannot hold it'],
    ['2033-06-30T21:59:60-02:00', 'a leap second with an offset'],
    ['2033-02-29T00:00:00Z', 'not a leap year'],
    ['2033-01-01T10:00:00', 'no offset'],
    ['2033-01-01', 'a date alone'],
    ['tomorrow', 'not an instant'],
    ['0000-01-01T00:00:00Z', 'a year before 1000'],
    ['0999-12-31T23:59:59Z', 'the last instant before 1000'],
    ['9999-12-31T23:59:59-01:00', 'an offset that makes it the year 10000 in UTC'],
    ['1000-01-01T00:30:00+01:00', 'an offset that makes it 999 in UTC'],
    ['2033-01-01T10:00:00+24:00', 'an offset of 24 hours'],
  ])('refuses %s (%s)', (value) => {
    expect(isInstant(value)).toBe(false);
  });
});

describe('createValidatorCompiler', () => {
  const compile = createValidatorCompiler();
  const schema = { type: 'object', properties: { at: { type: 'string', format: 'date-time' } } };

  it.each(['body', 'querystring'] as const)('refuses a leap second in the %s, which would otherwise become an invalid date', (httpPart) => {
    const validate = compile({ schema, httpPart, method: 'POST', url: '/' }) as (data: unknown) => boolean;
    expect(validate({ at: '2032-12-31T23:59:60Z' })).toBe(false);
    expect(validate({ at: '2032-12-31T23:59:59Z' })).toBe(true);
  });
});
