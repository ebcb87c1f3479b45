import { Type } from 'typebox';
import { IdempotencyHeaders, Instant } from './common.ts';

const notes = Type.String({ maxLength: 1000 });

export const CreateReservationBody = Type.Object(
  {
    resourceId: Type.String({ format: 'uuid' }),
    startsAt: Instant('start, ISO 8601 with an offset'),
    endsAt: Instant('end (exclusive), ISO 8601 with an offset, after startsAt'),
    hold: Type.Optional(
      Type.Boolean({ description: 'hold the time until confirmed (or until the hold expires) instead of confirming now' }),
    ),
    notes: Type.Optional(notes),
    customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'admins only: book on behalf of this customer' })),
  },
  { additionalProperties: false },
);

export const RescheduleBody = Type.Object(
  {
    startsAt: Type.Optional(Instant('new start')),
    endsAt: Type.Optional(Instant('new end')),
    notes: Type.Optional(Type.Union([notes, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ifMatch = Type.String({
  maxLength: 64,
  description: 'the ETag of the version you read (`"3"`); another version, a list or `*` is a 412 (RFC 9110 §13.1.1)',
});

/** Confirm and cancel: an Idempotency-Key, and If-Match when the client wants the change only on the version it read. */
export const OptionalIfMatchHeaders = Type.Object({ ...IdempotencyHeaders.properties, 'if-match': Type.Optional(ifMatch) });

/** PATCH: If-Match is required (without it a 428, RFC 6585 §3), and an Idempotency-Key like every other command. */
export const IfMatchHeaders = Type.Object({ ...IdempotencyHeaders.properties, 'if-match': ifMatch });
