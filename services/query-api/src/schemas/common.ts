import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

const problem = (description: string) => problemResponse(description);

export const commonProblems = {
  400: problem('invalid request: every offending field is listed in `errors`'),
  401: problem('missing, malformed or expired bearer token'),
  403: problem('the token’s role may not ask for this'),
  404: problem('no such reservation or resource, or not one you may see'),
  429: problem('rate limited: more requests of this class than the principal may make in the window; retry after the Retry-After delay'),
  503: problem('overloaded: retry after the Retry-After delay'),
};

export const ConsistencyHeaders = Type.Object({
  [CONSISTENCY_HEADER]: Type.Optional(
    Type.String({
      maxLength: 512,
      description:
        'the token a write returned to the same principal, before it expires: the read then reflects that write (read-your-writes); any other value is a 400',
    }),
  ),
});

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
export const security = [{ bearer: [] }];
