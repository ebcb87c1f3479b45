// What other packages' tests use of reservation-api (`@reservations/reservation-api/testing`):
// the app on a database of its own, booking fixtures, and the write side's pieces that an
// end-to-end test drives directly (the store, the outbox's envelope).
export { toEnvelope } from '../../src/plugins/outbox-relay.ts';
export { createReservationStore } from '../../src/plugins/reservation-store.ts';
export * from './app.ts';
export * from './fixtures.ts';
