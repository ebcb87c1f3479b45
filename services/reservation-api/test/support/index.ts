// What other packages' tests use of reservation-api (`@reservations/reservation-api/testing`):
// the app on a database of its own, booking fixtures, and the write side's pieces that an
// end-to-end test drives directly (the store, the outbox's envelope).

export { toEnvelope } from '../../src/domain/envelope.ts';
export { createReservationStore } from '../../src/stores/reservation-store.ts';
export * from './app.ts';
export * from './fixtures.ts';
