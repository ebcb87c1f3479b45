import { kitProblems, type Principal, Problem } from '@reservations/service-kit';

/**
 * A provider reaches only its own notifications and webhook; an admin reaches any. Ids are JWT
 * `sub` strings, equal only byte for byte: the routes then query with the URL's id, which finds
 * only that provider's rows because its columns are exact too (migration 3), not `ACME`'s for `acme`.
 */
export function checkProviderAccess(principal: Principal, providerId: string): void {
  if (principal.role === 'admin' || (principal.role === 'provider' && principal.id === providerId)) return;
  throw new Problem(kitProblems, 'forbidden', `only provider ${providerId} (or an admin) may do this`);
}
