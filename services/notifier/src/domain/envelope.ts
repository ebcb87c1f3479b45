import { EventEnvelope } from '@reservations/contracts';
import { Value } from 'typebox/value';

/** An event that can never be processed; it is retried anyway (the fault may be ours) until SQS moves it to the DLQ. */
export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

/** Parses an SQS message body into an event, or says why it cannot be one. */
export function parseEnvelope(body: string | undefined): EventEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    throw new MalformedEventError('the message body is not JSON');
  }
  if (!Value.Check(EventEnvelope, value)) {
    const first = [...Value.Errors(EventEnvelope, value)][0];
    throw new MalformedEventError(`the message is not an event: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
  }
  return value as EventEnvelope;
}
