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

/**
 * Every character SQS refuses in a message body: it accepts only #x9 | #xA | #xD | #x20–#xD7FF |
 * #xE000–#xFFFD | #x10000–#x10FFFF. With the `u` flag a lone surrogate is one code point, so it
 * matches too; a surrogate pair is one astral code point and does not.
 */
const REFUSED_BY_SQS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * The message body of an event: JSON in which every character SQS refuses is written as a
 * `\uXXXX` escape, so `JSON.parse` of the body gives back the envelope exactly. JSON.stringify
 * already escapes controls and lone surrogates; U+FFFE and U+FFFF it leaves raw, and SQS would
 * refuse the whole message (InvalidMessageContents) for one customer's notes. Raw characters of
 * JSON text only occur inside strings, where an escape means the same character.
 */
export function encodeMessageBody(event: EventEnvelope): string {
  return JSON.stringify(event).replace(REFUSED_BY_SQS, (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`);
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
