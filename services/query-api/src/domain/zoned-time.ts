/**
 * One formatter per time zone, made once: building an Intl.DateTimeFormat costs far more than
 * using one. Resources hold IANA names, a few hundred at most.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** `timeZone`'s offset from UTC at `ms`, in milliseconds (whole seconds: some historical offsets have them), from Intl. */
function exactOffset(timeZone: string, ms: number): number {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(ms)) parts[p.type] = p.value;
  const local = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return local - Math.floor(ms / 1000) * 1000;
}

const HOUR = 3_600_000;
/** Offsets at whole UTC hours, per zone; a zone's dropped whole past this many (years of hours). */
const MAX_CACHED_HOURS = 100_000;
const hourOffsets = new Map<string, Map<number, number>>();

function offsetAtHour(timeZone: string, hour: number): number {
  let zone = hourOffsets.get(timeZone);
  if (!zone) {
    zone = new Map();
    hourOffsets.set(timeZone, zone);
  }
  let offset = zone.get(hour);
  if (offset === undefined) {
    if (zone.size >= MAX_CACHED_HOURS) zone.clear();
    offset = exactOffset(timeZone, hour * HOUR);
    zone.set(hour, offset);
  }
  return offset;
}

/**
 * The offset at `ms`. A month's availability formats two instants per free window (thousands on
 * a busy resource), and `formatToParts` costs microseconds each: the offset at each whole UTC
 * hour is asked of Intl once and cached, and an instant inside an hour whose two ends have the
 * same offset has it too (no zone changes offset twice within an hour). Only the hour of a change
 * asks Intl about the instant itself.
 */
function offsetAt(timeZone: string, ms: number): number {
  const hour = Math.floor(ms / HOUR);
  const before = offsetAtHour(timeZone, hour);
  return before === offsetAtHour(timeZone, hour + 1) ? before : exactOffset(timeZone, ms);
}

/**
 * An instant as ISO 8601 local time in `timeZone` with its UTC offset, e.g.
 * `2030-03-31T03:00:00.000+02:00` for Europe/Paris just after the spring change.
 */
export function formatInZone(instant: Date, timeZone: string): string {
  const ms = instant.getTime();
  const offset = offsetAt(timeZone, ms);
  // The local wall time is the instant moved by the offset, read as if it were UTC.
  return `${utcWallTime(ms + offset)}${offsetSuffix(offset)}`;
}

const DAY = 24 * HOUR;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
/** The last day's `YYYY-MM-DDT`: a month's instants come in order, most on the same day as the one before. */
let lastDay = Number.NaN;
let lastDate = '';

/** `ms` as `toISOString()` writes it, without the `Z`: the date from Date once per day, the time by arithmetic. */
function utcWallTime(ms: number): string {
  const day = Math.floor(ms / DAY);
  if (day !== lastDay) {
    lastDate = new Date(day * DAY).toISOString().slice(0, 11);
    lastDay = day;
  }
  let rest = ms - day * DAY;
  const h = Math.floor(rest / HOUR);
  rest -= h * HOUR;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  return `${lastDate}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[s]}.${milli === 0 ? '000' : String(milli).padStart(3, '0')}`;
}

/** `+02:00` for an offset of two hours: a handful per zone, so each is built once. */
const suffixes = new Map<number, string>();
function offsetSuffix(offset: number): string {
  let suffix = suffixes.get(offset);
  if (suffix === undefined) {
    const offsetMinutes = Math.round(offset / 60_000);
    const abs = Math.abs(offsetMinutes);
    const hh = String(Math.floor(abs / 60)).padStart(2, '0');
    const mm = String(abs % 60).padStart(2, '0');
    suffix = `${offsetMinutes < 0 ? '-' : '+'}${hh}:${mm}`;
    suffixes.set(offset, suffix);
  }
  return suffix;
}
