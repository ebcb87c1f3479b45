import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

/** Problem responses; a 409 for a taken slot also names the window (`conflict`). */
export const problem = (description: string) =>
  problemResponse(description, {
    conflict: Type.Optional(Type.Object({ startsAt: Type.String({ format: 'date-time' }), endsAt: Type.String({ format: 'date-time' }) })),
  });

/**
 * The problem responses every route of this API may give beyond the plumbing's (401, 414, 415,
 * 429 and 503 are added to each route's document by service-kit).
 */
export const commonProblems = {
  400: problem('invalid request (also a body over the size limit): every offending field is listed in `errors`'),
  403: problem('the token’s role may not do this'),
};

/** Idempotency-Key on every command (draft-ietf-httpapi-idempotency-key-header): the runner honours it on each route that sends one. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' })),
});

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const Instant = (description: string) => Type.String({ format: 'date-time', description });
