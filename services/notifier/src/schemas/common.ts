import { problemResponse } from '@reservations/service-kit';
import { Type } from 'typebox';

export const security = [{ bearer: [] }];

/** What every route may answer beyond the plumbing's (400, 401, 414, 415, 429 and 503, added by service-kit). */
export const commonProblems = {
  403: problemResponse('a provider may only see and change its own notifications'),
};

export const ProviderParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128, description: 'the provider (the `sub` of its token)' }) },
  { additionalProperties: false },
);
