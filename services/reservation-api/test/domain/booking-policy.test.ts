import { describe, expect, it } from '@jest/globals';
import { type BookingPolicy, policyFor, windowViolations } from '../../src/domain/booking-policy.ts';

const policy: BookingPolicy = { maxDurationMinutes: 120, horizonDays: 30, clockSkewSeconds: 60 };
const now = new Date('2026-12-03T12:00:00Z');
const window = (start: string, end: string) => ({ start: new Date(start), end: new Date(end) });
const fields = (start: string, end: string, options?: { startChanged: boolean }) =>
  windowViolations(window(start, end), policy, now, options).map((e) => e.field);

describe('windowViolations', () => {
  it.each([
    ['a window an hour from now', '2026-12-03T13:00:00Z', '2026-12-03T14:00:00Z'],
    ['exactly the longest window', '2026-12-04T10:00:00Z', '2026-12-04T12:00:00Z'],
    ['ending exactly at the horizon', '2027-01-02T11:00:00Z', '2027-01-02T12:00:00Z'],
    ['a start within the clock skew', '2026-12-03T11:59:00Z', '2026-12-03T12:30:00Z'],
  ])('accepts %s', (_what, start, end) => {
    expect(fields(start, end)).toEqual([]);
  });

  it.each([
    ['a start past the clock skew', '2026-12-03T11:58:59Z', '2026-12-03T12:30:00Z', ['body/startsAt']],
    ['a window a minute too long', '2026-12-04T10:00:00Z', '2026-12-04T12:01:00Z', ['body/endsAt']],
    ['an end a millisecond past the horizon', '2027-01-02T11:00:00Z', '2027-01-02T12:00:00.001Z', ['body/endsAt']],
    ['1970 to 9999 (every rule at once)', '1970-01-01T00:00:00Z', '9999-12-31T00:00:00Z', ['body/startsAt', 'body/endsAt', 'body/endsAt']],
  ])('refuses %s, naming the field', (_what, start, end, expected) => {
    expect(fields(start, end)).toEqual(expected);
  });

  it('says what the limit is', () => {
    expect(windowViolations(window('2026-12-04T10:00:00Z', '2027-02-01T00:00:00Z'), policy, now)).toEqual([
      { field: 'body/endsAt', message: "makes the window longer than the resource's maximum of 120 minutes" },
      { field: 'body/endsAt', message: "is beyond the resource's booking horizon of 30 days (2027-01-02T12:00:00.000Z)" },
    ]);
  });

  it('a reschedule that keeps a start already past may still move the end', () => {
    expect(fields('2026-12-03T11:00:00Z', '2026-12-03T12:30:00Z', { startChanged: false })).toEqual([]);
    expect(fields('2026-12-03T11:00:00Z', '2026-12-03T12:30:00Z', { startChanged: true })).toEqual(['body/startsAt']);
  });
});

describe('policyFor', () => {
  it("takes the resource's own settings, and the service's defaults where it has none", () => {
    expect(policyFor({ maxDurationMinutes: 15, bookingHorizonDays: null }, policy)).toEqual({
      maxDurationMinutes: 15,
      horizonDays: 30,
      clockSkewSeconds: 60,
    });
    expect(policyFor({ maxDurationMinutes: null, bookingHorizonDays: 7 }, policy)).toEqual({ ...policy, horizonDays: 7 });
  });
});
