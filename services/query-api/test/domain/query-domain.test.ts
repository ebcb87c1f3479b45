import { describe, expect, it } from '@jest/globals';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.ts';
import { freeWindows } from '../../src/domain/free-windows.ts';
import { formatInZone } from '../../src/domain/zoned-time.ts';

const t = (h: number) => new Date(Date.UTC(2030, 0, 1) + h * 3_600_000);
const iv = (a: number, b: number) => ({ start: t(a), end: t(b) });

describe('freeWindows', () => {
  it('capacity 1: the gaps between bookings, adjacent bookings leave no gap', () => {
    expect(freeWindows([iv(10, 11), iv(11, 12), iv(14, 15)], iv(8, 18), 1)).toEqual([iv(8, 10), iv(12, 14), iv(15, 18)]);
  });

  it('capacity 2: only where two overlap is the time gone', () => {
    expect(freeWindows([iv(10, 12), iv(11, 13)], iv(8, 18), 2)).toEqual([iv(8, 11), iv(12, 18)]);
  });

  it('clips bookings that stick out of the window, and a full window has nothing free', () => {
    expect(freeWindows([iv(6, 20)], iv(8, 18), 1)).toEqual([]);
    expect(freeWindows([], iv(8, 18), 1)).toEqual([iv(8, 18)]);
  });
});

describe('cursor', () => {
  it('round-trips and refuses anything it did not make', () => {
    const cursor = { startsAt: '2030-01-01T10:00:00.000Z', id: '5f0c6a0e-2f7a-4c1e-9b1a-0d6c2a7b9e11' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const bad of ['', 'nope', Buffer.from('{"a":1}').toString('base64url'), Buffer.from('["x","y"]').toString('base64url')]) {
      expect(decodeCursor(bad)).toBeUndefined();
    }
  });
});

describe('formatInZone', () => {
  it.each([
    ['2030-01-01T10:00:00.000Z', 'Europe/Paris', '2030-01-01T11:00:00.000+01:00'],
    ['2030-07-01T10:00:00.000Z', 'Europe/Paris', '2030-07-01T12:00:00.000+02:00'],
    ['2030-01-01T10:00:00.250Z', 'America/St_Johns', '2030-01-01T06:30:00.250-03:30'],
    ['2030-01-01T23:30:00.000Z', 'Asia/Kolkata', '2030-01-02T05:00:00.000+05:30'],
    ['2030-01-01T10:00:00.000Z', 'UTC', '2030-01-01T10:00:00.000+00:00'],
    // Milliseconds, and instants before 1970 and far ahead: the wall time is built by arithmetic.
    ['1969-12-31T23:59:59.999Z', 'UTC', '1969-12-31T23:59:59.999+00:00'],
    ['1960-03-01T00:00:00.042Z', 'Asia/Kolkata', '1960-03-01T05:30:00.042+05:30'],
    ['2150-12-31T23:30:00.007Z', 'Europe/Paris', '2151-01-01T00:30:00.007+01:00'],
  ])('%s in %s → %s', (iso, zone, expected) => {
    expect(formatInZone(new Date(iso), zone)).toBe(expected);
    expect(new Date(expected).toISOString()).toBe(iso);
  });

  // Zones whose offsets change by an hour (north and south), by half an hour (Lord Howe), at odd
  // offsets (St John's, Chatham), or not at all: an instant every 36 min 7.5 s across two years,
  // and every 15 s of each hour in which the offset changes.
  const zones = [
    'Europe/Paris',
    'America/New_York',
    'America/St_Johns',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
    'Australia/Sydney',
    'Asia/Kolkata',
    'UTC',
  ];
  it.each(zones)('in %s: the local time Intl gives and the same instant back, across two years of offset changes', (zone) => {
    // Sweden's short date and medium time are ISO 8601's `YYYY-MM-DD HH:mm:ss`.
    const wallClock = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, dateStyle: 'short', timeStyle: 'medium' });
    const local = (ms: number) => wallClock.format(ms).replace(' ', 'T');
    const wrong: string[] = [];
    const check = (ms: number) => {
      const formatted = formatInZone(new Date(ms), zone);
      if (!formatted.startsWith(local(ms)) || new Date(formatted).getTime() !== ms) {
        wrong.push(`${new Date(ms).toISOString()} → ${formatted}, Intl ${local(ms)}`);
      }
    };
    const from = Date.UTC(2029, 0, 1);
    const to = from + 2 * 365 * 86_400_000;
    for (let ms = from; ms < to; ms += 2_167_500) check(ms);
    const offset = (ms: number) => Date.parse(`${local(ms)}Z`) - ms;
    let changes = 0;
    for (let hour = from; hour < to; hour += 3_600_000) {
      if (offset(hour) === offset(hour + 3_600_000)) continue;
      changes++;
      for (let ms = hour; ms <= hour + 3_600_000; ms += 15_000) check(ms);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(changes).toBe(['Asia/Kolkata', 'UTC'].includes(zone) ? 0 : 4);
  });
});
