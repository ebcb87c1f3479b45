import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

const problem = (description: string) => problemResponse(description);

/** What every read may answer beyond the plumbing's (400, 401, 414, 429 and 503, added by service-kit). */
export const commonProblems = {
  403: problem('the token’s role may not ask for this'),
  404: problem('no such reservation or resource, or not one you may see'),
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
