import { Problem } from '@reservations/service-kit';
import { problems } from '../errors.ts';
import type { Interval } from './interval.ts';

/**
 * The window a request asks for, or a 400 naming the field. The schema has already checked the
 * format (RFC 3339, offset required); this checks what a schema cannot: order and sanity.
 */
export function parseWindow(startsAt: string, endsAt: string): Interval {
  const start = new Date(startsAt);
  const end = new Date(endsAt);
  if (end <= start) {
    throw new Problem(problems, 'validation-failed', 'body/endsAt must be after startsAt', {
      extensions: { errors: [{ field: 'body/endsAt', message: 'must be after startsAt' }] },
    });
  }
  return { start, end };
}
