// What other packages' tests use of the notifier (`@reservations/notifier/testing`): the event
// processor, which fills the event history query-api serves.
export { createEventProcessor } from '../../src/workers/event-processor.ts';
