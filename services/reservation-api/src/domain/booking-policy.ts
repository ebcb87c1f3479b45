import type { FieldError } from '@reservations/service-kit';
import type { Interval } from './interval.ts';

/** What a window must respect on a resource: the service's defaults, or the resource's own. */
export interface BookingPolicy {
  maxDurationMinutes: number;
  horizonDays: number;
  /** How far in the past a new start may lie (clocks disagree; requests take time on the way). */
  clockSkewSeconds: number;
}

/** A resource's own settings; null takes the service's default. */
export interface ResourcePolicy {
  maxDurationMinutes: number | null;
  bookingHorizonDays: number | null;
}

export function policyFor(resource: ResourcePolicy, defaults: BookingPolicy): BookingPolicy {
  return {
    maxDurationMinutes: resource.maxDurationMinutes ?? defaults.maxDurationMinutes,
    horizonDays: resource.bookingHorizonDays ?? defaults.horizonDays,
    clockSkewSeconds: defaults.clockSkewSeconds,
  };
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * Every way `window` breaks the policy at `now`, each naming its field. `startChanged` is false
 * for a reschedule that keeps the start: a reservation already under way may still get a later
 * end, so only a start being set must not be in the past.
 */
export function windowViolations(window: Interval, policy: BookingPolicy, now: Date, { startChanged = true } = {}): FieldError[] {
  const errors: FieldError[] = [];
  if (startChanged && window.start.getTime() < now.getTime() - policy.clockSkewSeconds * 1000) {
    errors.push({ field: 'body/startsAt', message: `is in the past (now is ${now.toISOString()})` });
  }
  if (window.end.getTime() - window.start.getTime() > policy.maxDurationMinutes * MINUTE) {
    errors.push({
      field: 'body/endsAt',
      message: `makes the window longer than the resource's maximum of ${policy.maxDurationMinutes} minutes`,
    });
  }
  const horizon = new Date(now.getTime() + policy.horizonDays * DAY);
  if (window.end > horizon) {
    errors.push({
      field: 'body/endsAt',
      message: `is beyond the resource's booking horizon of ${policy.horizonDays} days (${horizon.toISOString()})`,
    });
  }
  return errors;
}
