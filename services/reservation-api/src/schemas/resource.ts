import { Type } from 'typebox';
import { Instant } from './common.ts';

export const ResourceSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    providerId: Type.String(),
    timeZone: Type.String({ description: 'IANA time zone the resource lives in' }),
    capacity: Type.Integer({ minimum: 1 }),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Instant('creation time'),
    updatedAt: Instant('last change'),
  },
  { description: 'a bookable resource' },
);

const name = Type.String({ minLength: 1, maxLength: 200 });
const timeZone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Paris' });
const capacity = Type.Integer({ minimum: 1, maximum: 10000, description: 'how many reservations may overlap at any instant' });

export const CreateResourceBody = Type.Object(
  {
    name,
    providerId: Type.String({ minLength: 1, maxLength: 128 }),
    timeZone,
    capacity: Type.Optional(capacity),
  },
  { additionalProperties: false },
);

export const UpdateResourceBody = Type.Object(
  { name: Type.Optional(name), timeZone: Type.Optional(timeZone), capacity: Type.Optional(capacity) },
  { additionalProperties: false, minProperties: 1 },
);
