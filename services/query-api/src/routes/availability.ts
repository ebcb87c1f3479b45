import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Problem } from '@reservations/service-kit';
import { Type } from 'typebox';
import { freeWindows } from '../domain/free-windows.ts';
import { formatInZone } from '../domain/zoned-time.ts';
import { problems } from '../errors.ts';
import { ConsistencyHeaders, commonProblems, IdParams, security } from '../schemas/common.ts';
import { consistencyToken } from './reservations.ts';

/** A bound on the work one request can ask for. */
const MAX_RANGE_MS = 31 * 24 * 3_600_000;

const Window = Type.Object({
  startsAt: Type.String({ format: 'date-time', description: 'in the resource’s time zone, with its offset' }),
  endsAt: Type.String({ format: 'date-time' }),
});

const availabilityRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/resources/:id/availability',
    {
      schema: {
        operationId: 'getAvailability',
        summary: 'Free windows of a resource between two instants, in its time zone',
        description: '`to` must be after `from` and at most 31 days after it: otherwise a 400 naming `querystring/to`.',
        tags: ['resources'],
        security,
        params: IdParams,
        headers: ConsistencyHeaders,
        querystring: Type.Object(
          { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ resourceId: Type.String(), timeZone: Type.String(), capacity: Type.Integer(), free: Type.Array(Window) }),
          ...commonProblems,
        },
      },
    },
    async (request) => {
      const window = { start: new Date(request.query.from), end: new Date(request.query.to) };
      const span = window.end.getTime() - window.start.getTime();
      if (span <= 0 || span > MAX_RANGE_MS) {
        const message = span <= 0 ? 'must be after from' : 'must be at most 31 days after from';
        throw new Problem(problems, 'validation-failed', `querystring/to ${message}`, {
          extensions: { errors: [{ field: 'querystring/to', message }] },
        });
      }
      const pool = await app.dbs.poolFor(consistencyToken(app, request));
      const resource = await app.reader.resource(pool, request.params.id);
      if (!resource) throw new Problem(problems, 'resource-not-found', `resource ${request.params.id} does not exist`);
      const free = freeWindows(await app.reader.taken(pool, resource.id, window), window, resource.capacity);
      return {
        resourceId: resource.id,
        timeZone: resource.timeZone,
        capacity: resource.capacity,
        free: free.map((w) => ({ startsAt: formatInZone(w.start, resource.timeZone), endsAt: formatInZone(w.end, resource.timeZone) })),
      };
    },
  );
};

export default availabilityRoutes;
