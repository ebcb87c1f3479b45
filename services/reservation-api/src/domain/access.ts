import type { Principal } from '@reservations/service-kit';

/**
 * Who may see or change a reservation: its customer, the provider that owns its resource, any
 * admin. Anyone else gets a 404, not a 403, so reservation ids do not leak (a 403 is for a role
 * that may never do the thing at all).
 */
export function mayAccessReservation(principal: Principal, reservation: { customerId: string }, resource: { providerId: string }): boolean {
  switch (principal.role) {
    case 'admin':
      return true;
    case 'provider':
      return resource.providerId === principal.id;
    case 'customer':
      return reservation.customerId === principal.id;
  }
}
