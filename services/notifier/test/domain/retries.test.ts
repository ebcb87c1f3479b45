import { describe, expect, it } from '@jest/globals';
import { MalformedEventError, parseEnvelope } from '../../src/workers/event-processor.ts';
import { retryVisibility } from '../../src/workers/sqs-intake.ts';
import { retryDelay } from '../../src/workers/webhook-deliverer.ts';

describe('webhook retry delay', () => {
  it('grows exponentially with full jitter, capped', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, 600_000, () => 0.999))).toEqual([1998, 3996, 7992, 15984]);
    expect(retryDelay(3, 1000, 600_000, () => 0)).toBe(0);
    expect(retryDelay(40, 1000, 600_000, () => 0.5)).toBe(600_000);
  });
});

describe('failed message visibility', () => {
  it('doubles per receive from the base, within SQS’s 12 hours', () => {
    expect([1, 2, 3, 4].map((n) => retryVisibility(n, 2))).toEqual([2, 4, 8, 16]);
    expect(retryVisibility(30, 2)).toBe(32_768);
    expect(retryVisibility(30, 10)).toBe(43_200);
  });
});

describe('parseEnvelope', () => {
  const event = {
    eventId: '6f1c1e9e-8d1e-4a43-9b7e-1f0c2c4b1a2d',
    type: 'reservation.created',
    aggregateType: 'reservation',
    aggregateId: '7f1c1e9e-8d1e-4a43-9b7e-1f0c2c4b1a2d',
    version: 1,
    occurredAt: '2030-01-01T10:00:00.000Z',
    payload: {},
  };

  it('accepts an outbox event', () => {
    expect(parseEnvelope(JSON.stringify(event))).toEqual(event);
  });

  it.each([
    ['not JSON', '{', 'the message body is not JSON'],
    ['no event id', JSON.stringify({ ...event, eventId: undefined }), 'the message is not an event'],
    ['a bad version', JSON.stringify({ ...event, version: 0 }), '/version'],
    ['an unknown field', JSON.stringify({ ...event, extra: 1 }), 'the message is not an event'],
  ])('refuses %s, saying why', (_what, body, message) => {
    expect(() => parseEnvelope(body)).toThrow(MalformedEventError);
    expect(() => parseEnvelope(body)).toThrow(message);
  });
});
