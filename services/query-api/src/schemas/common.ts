import { CONSISTENCY_HEADER } from '@reservations/service-kit';
import { Type } from 'typebox';

/** RFC 9457 problem details; `errors` lists the offending fields. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true },
);

const problem = (description: string) => ({ ...ProblemSchema, description });

export const commonProblems = {
  400: problem('invalid request: every offending field is listed in `errors`'),
  401: problem('missing, malformed or expired bearer token'),
  403: problem('the token’s role may not ask for this'),
  404: problem('no such reservation or resource, or not one you may see'),
  503: problem('overloaded: retry after the Retry-After delay'),
};

export const ConsistencyHeaders = Type.Object({
  [CONSISTENCY_HEADER]: Type.Optional(
    Type.String({ maxLength: 512, description: 'the token a write returned: the read then reflects that write (read-your-writes)' }),
  ),
});

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
export const security = [{ bearer: [] }];
