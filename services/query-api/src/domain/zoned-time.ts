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
/** Offsets at whole UTC hours, by `zone@hour`; dropped whole past this many (years of hours). */
const MAX_CACHED_HOURS = 100_000;
const hourOffsets = new Map<string, number>();

function offsetAtHour(timeZone: string, hour: number): number {
  const key = `${timeZone}@${hour}`;
  let offset = hourOffsets.get(key);
  if (offset === undefined) {
    if (hourOffsets.size >= MAX_CACHED_HOURS) hourOffsets.clear();
    offset = exactOffset(timeZone, hour * HOUR);
    hourOffsets.set(key, offset);
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
  const offsetMinutes = Math.round(offset / 60_000);
  const abs = Math.abs(offsetMinutes);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  // The local wall time is the instant moved by the offset, read as if it were UTC.
  return `${new Date(ms + offset).toISOString().slice(0, 23)}${sign}${hh}:${mm}`;
}
