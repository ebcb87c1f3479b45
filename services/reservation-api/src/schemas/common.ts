import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

/** Problem responses; a 409 for a taken slot also names the window (`conflict`). */
export const problem = (description: string) =>
  problemResponse(description, {
    conflict: Type.Optional(Type.Object({ startsAt: Type.String({ format: 'date-time' }), endsAt: Type.String({ format: 'date-time' }) })),
  });

/** The problem responses every authenticated route may give, for the OpenAPI document. */
export const commonProblems = {
  400: problem('invalid request (also a body over the size limit): every offending field is listed in `errors`'),
  401: problem('missing, malformed or expired bearer token'),
  403: problem('the token’s role may not do this'),
  429: problem('rate limited: more requests of this class than the principal may make in the window; retry after the Retry-After delay'),
  503: problem('overloaded: retry after the Retry-After delay'),
};

/** Idempotency-Key on every command (draft-ietf-httpapi-idempotency-key-header): the runner honours it on each route that sends one. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' })),
});

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const Instant = (description: string) => Type.String({ format: 'date-time', description });
