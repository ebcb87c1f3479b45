import { describe, expect, it } from '@jest/globals';
import { MalformedEventError, parseEnvelope } from '../../src/domain/envelope.ts';

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
