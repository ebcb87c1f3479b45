import { defineProblems, KIT_PROBLEM_BASE, kitProblems } from '@reservations/service-kit';

/**
 * Every problem this API answers with, defined once: the code is the last segment of the
 * problem `type` (RFC 9457 §3.1.1), so clients can branch on it.
 */
export const problems = defineProblems(KIT_PROBLEM_BASE, {
  ...kitProblems.specs,
  'resource-not-found': { status: 404, title: 'No such resource' },
  'reservation-not-found': { status: 404, title: 'No such reservation' },
  'slot-unavailable': { status: 409, title: 'The time is already taken' },
  'hold-expired': { status: 409, title: 'The hold expired before it was confirmed' },
  'reservation-cancelled': { status: 409, title: 'The reservation is cancelled' },
  'hold-limit-reached': { status: 409, title: 'The customer already has as many holds as allowed' },
  'idempotency-in-progress': { status: 409, title: 'A request with this Idempotency-Key is still running' },
  'idempotency-key-reused': { status: 422, title: 'This Idempotency-Key was used with a different request' },
  'version-mismatch': { status: 412, title: 'The version in If-Match is not the current one' },
  'precondition-required': { status: 428, title: 'This change needs an If-Match header with the current version' },
});

export type ProblemCode = keyof typeof problems.specs;
