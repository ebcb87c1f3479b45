import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

export const security = [{ bearer: [] }];

export const commonProblems = {
  400: problemResponse('invalid request: every offending field is listed in `errors`'),
  401: problemResponse('missing, malformed or expired bearer token'),
  403: problemResponse('a provider may only see and change its own notifications'),
  429: problemResponse(
    'rate limited: more requests of this class than the principal may make in the window; retry after the Retry-After delay',
  ),
  503: problemResponse('overloaded: retry after the Retry-After delay'),
};

export const ProviderParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128, description: 'the provider (the `sub` of its token)' }) },
  { additionalProperties: false },
);
