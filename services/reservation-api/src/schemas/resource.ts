import { Type } from 'typebox';
import { Instant } from './common.ts';

export const ResourceSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    providerId: Type.String(),
    timeZone: Type.String({ description: 'IANA time zone the resource lives in' }),
    capacity: Type.Integer({ minimum: 1 }),
    maxDurationMinutes: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: "the longest window a booking may take; null: the service's default (BOOKING_MAX_DURATION_MINUTES)",
    }),
    bookingHorizonDays: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: "how far ahead a booking may end; null: the service's default (BOOKING_HORIZON_DAYS)",
    }),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Instant('creation time'),
    updatedAt: Instant('last change'),
  },
  { description: 'a bookable resource' },
);

const name = Type.String({ minLength: 1, maxLength: 200 });
const timeZone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Paris' });
const capacity = Type.Integer({ minimum: 1, maximum: 10000, description: 'how many reservations may overlap at any instant' });
const maxDurationMinutes = Type.Union([Type.Integer({ minimum: 1, maximum: 525_600 }), Type.Null()], {
  description: "the longest window a booking may take, in minutes (at most a year); null: the service's default",
});
const bookingHorizonDays = Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()], {
  description: "how far ahead of now a booking may end, in days; null: the service's default",
});

export const CreateResourceBody = Type.Object(
  {
    name,
    providerId: Type.String({ minLength: 1, maxLength: 128 }),
    timeZone,
    capacity: Type.Optional(capacity),
    maxDurationMinutes: Type.Optional(maxDurationMinutes),
    bookingHorizonDays: Type.Optional(bookingHorizonDays),
  },
  { additionalProperties: false },
);

export const UpdateResourceBody = Type.Object(
  {
    name: Type.Optional(name),
    timeZone: Type.Optional(timeZone),
    capacity: Type.Optional(capacity),
    maxDurationMinutes: Type.Optional(maxDurationMinutes),
    bookingHorizonDays: Type.Optional(bookingHorizonDays),
  },
  { additionalProperties: false, minProperties: 1 },
);
