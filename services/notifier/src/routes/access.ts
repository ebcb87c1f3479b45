import { kitProblems, type Principal, Problem } from '@reservations/service-kit';

/** A provider reaches only its own notifications and webhook; an admin reaches any. */
export function checkProviderAccess(principal: Principal, providerId: string): void {
  if (principal.role === 'admin' || (principal.role === 'provider' && principal.id === providerId)) return;
  throw new Problem(kitProblems, 'forbidden', `only provider ${providerId} (or an admin) may do this`);
}
