import { defineProblems, KIT_PROBLEM_BASE, kitProblems } from '@reservations/service-kit';

/** Every problem the notifier's API answers with, defined once (codes are the last segment of `type`). */
export const problems = defineProblems(KIT_PROBLEM_BASE, {
  ...kitProblems.specs,
  'webhook-not-found': { status: 404, title: 'This provider has no webhook endpoint' },
  'unknown-last-event-id': { status: 400, title: 'Last-Event-ID names no event of this stream' },
  'too-many-streams': { status: 429, title: 'This provider holds as many notification streams as it may; retry after the time given' },
});
