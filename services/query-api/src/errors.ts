import { defineProblems, KIT_PROBLEM_BASE, kitProblems } from '@reservations/service-kit';

/** Every problem this API answers with, defined once (codes are the last segment of `type`). */
export const problems = defineProblems(KIT_PROBLEM_BASE, {
  ...kitProblems.specs,
  'reservation-not-found': { status: 404, title: 'No such reservation' },
  'resource-not-found': { status: 404, title: 'No such resource' },
});
