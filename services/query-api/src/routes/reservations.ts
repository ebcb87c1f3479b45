import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  BookingSchema,
  BookingStatus,
  type CachedBooking,
  CONSISTENCY_HEADER,
  mayAccessBooking,
  NotificationSchema,
} from '@reservations/contracts';
import { checkConsistencyToken, type Principal, Problem, type SigningKeys } from '@reservations/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { decodeCursor, encodeCursor } from '../domain/cursor.ts';
import { problems } from '../errors.ts';
import { ConsistencyHeaders, commonProblems, IdParams, security } from '../schemas/common.ts';

const ListQuery = Type.Object(
  {
    resourceId: Type.Optional(Type.String({ format: 'uuid' })),
    customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    status: Type.Optional(BookingStatus),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'only reservations ending after this instant' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'only reservations starting before this instant' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

const JSON_TYPE = 'application/json; charset=utf-8';

function invalid(field: string, message: string): Problem {
  return new Problem(problems, 'validation-failed', `${field} ${message}`, { extensions: { errors: [{ field, message }] } });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** What checks the consistency tokens reservation-api signs. */
    consistencyTokens: { keys: SigningKeys; clockSkewSeconds: number };
  }
}

/**
 * The GTID of the request's consistency token, if it sent one: a 400 naming the header unless
 * reservation-api signed it for this same principal and it has not expired.
 */
export function consistencyToken(app: FastifyInstance, request: FastifyRequest): string | undefined {
  const header = request.headers[CONSISTENCY_HEADER];
  if (header === undefined) return undefined;
  const field = `headers/${CONSISTENCY_HEADER}`;
  if (typeof header !== 'string') throw invalid(field, 'is not a consistency token');
  const { keys, clockSkewSeconds } = app.consistencyTokens;
  const check = checkConsistencyToken(keys, header, { principal: request.principal, clockSkewSeconds });
  if (!check.ok) throw invalid(field, check.message);
  return check.gtid;
}

/**
 * One reservation, as its reader may see it. With a consistency token the cache is skipped and
 * the read goes where the token's write already is (replica if caught up, else primary); the
 * result is then published to the cache version-checked, like any miss.
 */
async function readReservation(app: FastifyInstance, principal: Principal, id: string, token: string | undefined): Promise<CachedBooking> {
  let entry: CachedBooking | undefined;
  if (token) {
    entry = await app.reader.byId(await app.dbs.poolFor(token), id);
    if (entry) await app.reservationCache.put(id, entry);
  } else {
    entry = await app.reservationCache.get(id, () => app.reader.byId(app.dbs.replica, id));
  }
  if (!entry || !mayAccessBooking(principal, entry.fields, entry.fields)) {
    throw new Problem(problems, 'reservation-not-found', `reservation ${id} does not exist`);
  }
  return entry;
}

/** The entry's body is the BookingSchema JSON already: sent as stored, not parsed and serialised again. */
function sendEntry(reply: FastifyReply, entry: CachedBooking): FastifyReply {
  return reply.header('etag', `"${entry.version}"`).type(JSON_TYPE).send(entry.body);
}

const reservationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/reservations/:id',
    {
      schema: {
        operationId: 'getReservation',
        summary: 'One reservation (cached; send the write’s consistency token to read your own write)',
        tags: ['reservations'],
        security,
        params: IdParams,
        headers: ConsistencyHeaders,
        response: { 200: BookingSchema, ...commonProblems },
        'x-links': {
          200: {
            History: { operationId: 'getReservationEvents', parameters: { 'path.id': '$response.body#/id' } },
            Availability: { operationId: 'getAvailability', parameters: { 'path.id': '$response.body#/resourceId' } },
          },
        },
      },
    },
    async (request, reply) => {
      const entry = await readReservation(app, request.principal, request.params.id, consistencyToken(app, request));
      return sendEntry(reply, entry);
    },
  );

  app.get(
    '/reservations',
    {
      schema: {
        operationId: 'listReservations',
        summary: 'Reservations by resource, customer, status and time, oldest start first, cursor-paginated',
        description: '`to` must be after `from`, and `cursor` one this API handed out: otherwise a 400 naming the field.',
        tags: ['reservations'],
        security,
        querystring: ListQuery,
        headers: ConsistencyHeaders,
        response: {
          200: Type.Object({ items: Type.Array(BookingSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...commonProblems,
        },
        'x-links': {
          200: {
            First: { operationId: 'getReservation', parameters: { 'path.id': '$response.body#/items/0/id' } },
            NextPage: { operationId: 'listReservations', parameters: { 'query.cursor': '$response.body#/nextCursor' } },
          },
        },
      },
    },
    async (request) => {
      const { principal, query } = request;
      if (principal.role === 'customer' && query.customerId !== undefined && query.customerId !== principal.id) {
        throw new Problem(problems, 'forbidden', 'a customer lists only its own reservations');
      }
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (query.cursor !== undefined && !after) throw invalid('querystring/cursor', 'is not a cursor this API handed out');
      const from = query.from ? new Date(query.from) : undefined;
      const to = query.to ? new Date(query.to) : undefined;
      if (from && to && to <= from) throw invalid('querystring/to', 'must be after from');
      const pool = await app.dbs.poolFor(consistencyToken(app, request));
      const page = await app.reader.list(pool, {
        limit: query.limit,
        ...(query.resourceId ? { resourceId: query.resourceId } : {}),
        ...(query.customerId ? { customerId: query.customerId } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(principal.role === 'customer' ? { customerId: principal.id } : {}),
        ...(principal.role === 'provider' ? { providerId: principal.id } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(after ? { after } : {}),
      });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/reservations/:id/events',
    {
      schema: {
        operationId: 'getReservationEvents',
        summary: 'The history of a reservation: every event its changes emitted, in order, once the notifier has recorded it',
        tags: ['reservations'],
        security,
        params: IdParams,
        headers: ConsistencyHeaders,
        response: { 200: Type.Object({ items: Type.Array(NotificationSchema) }), ...commonProblems },
      },
    },
    async (request) => {
      const token = consistencyToken(app, request);
      await readReservation(app, request.principal, request.params.id, token);
      return { items: await app.reader.events(await app.dbs.poolFor(token), request.params.id) };
    },
  );
};

export default reservationRoutes;
