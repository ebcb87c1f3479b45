import { type Static, Type } from 'typebox';
import { BookingSchema } from './booking.ts';

/**
 * What travels between the services of the event pipeline: the message the outbox relay puts on
 * SQS (one outbox row), and the notification the notifier hands a provider (webhook body, SSE
 * `data`, and an item of query-api's `GET /v1/reservations/:id/events`). One definition each,
 * so the relay, the notifier and the query side cannot drift apart.
 */
export const EventEnvelope = Type.Object(
  {
    eventId: Type.String({ format: 'uuid', description: 'what every consumer deduplicates on' }),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    aggregateType: Type.Union([Type.Literal('reservation'), Type.Literal('resource')]),
    aggregateId: Type.String({ format: 'uuid' }),
    version: Type.Integer({ minimum: 1, description: 'the aggregate’s version after the change' }),
    occurredAt: Type.String({ format: 'date-time' }),
    payload: Type.Unknown({ description: 'the aggregate as the API renders it after the change' }),
  },
  { additionalProperties: false },
);
export type EventEnvelope = Static<typeof EventEnvelope>;

/** The SQS FIFO message group of an event: one per aggregate, so each aggregate's events stay in order. */
export function messageGroupId(event: Pick<EventEnvelope, 'aggregateType' | 'aggregateId'>): string {
  return `${event.aggregateType}:${event.aggregateId}`;
}

export const NotificationSchema = Type.Object(
  {
    eventId: Type.String({ format: 'uuid', description: 'unique per event: deduplicate on it' }),
    type: Type.String({ description: 'reservation.created, reservation.confirmed, reservation.cancelled, reservation.rescheduled' }),
    version: Type.Integer({ description: 'the reservation’s version after the change' }),
    occurredAt: Type.String({ format: 'date-time' }),
    reservation: BookingSchema,
  },
  { description: 'one change of a reservation' },
);
export type Notification = Static<typeof NotificationSchema>;
