import { describe, expect, it } from '@jest/globals';
import { type OutboxRecord, toEnvelope } from '../../src/domain/envelope.ts';

const record: OutboxRecord = {
  event_id: '6f1c1e9e-8d1e-4a43-9b7e-1f0c2c4b1a2d',
  aggregate_type: 'reservation',
  aggregate_id: '7f1c1e9e-8d1e-4a43-9b7e-1f0c2c4b1a2d',
  type: 'reservation.created',
  version: 3,
  payload: { id: '7f1c1e9e-8d1e-4a43-9b7e-1f0c2c4b1a2d', status: 'held' },
  occurred_at: new Date('2030-01-01T10:00:00.123Z'),
};

describe('an outbox row as the event envelope the relay sends', () => {
  it('carries the row’s columns under the envelope’s names, the time as ISO 8601', () => {
    expect(toEnvelope(record)).toEqual({
      eventId: record.event_id,
      type: 'reservation.created',
      aggregateType: 'reservation',
      aggregateId: record.aggregate_id,
      version: 3,
      occurredAt: '2030-01-01T10:00:00.123Z',
      payload: record.payload,
    });
  });

  it('parses a payload the driver returned as JSON text', () => {
    expect(toEnvelope({ ...record, payload: JSON.stringify(record.payload) }).payload).toEqual(record.payload);
  });

  it('makes the version a number whatever type the driver gave it', () => {
    expect(toEnvelope({ ...record, version: '12' as unknown as number }).version).toBe(12);
  });
});
