// What other packages' tests use of the notifier (`@reservations/notifier/testing`): the event
// processor, which fills the event history query-api serves, and the pool it runs on.
export { primaryPool } from '../../src/infra/db.ts';
export { createEventProcessor } from '../../src/workers/event-processor.ts';
