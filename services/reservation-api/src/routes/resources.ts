import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Problem, requireRole } from '@reservations/service-kit';
import { etag } from '../domain/etag.ts';
import { isTimeZone } from '../domain/time-zone.ts';
import { problems } from '../errors.ts';
import { commonProblems, IdempotencyHeaders, IdParams, problem } from '../schemas/common.ts';
import { CreateResourceBody, ResourceSchema, UpdateResourceBody } from '../schemas/resource.ts';
import { createResource, updateResource } from '../stores/resource-store.ts';

const security = [{ bearer: [] }];

function checkTimeZone(timeZone: string | undefined) {
  if (timeZone !== undefined && !isTimeZone(timeZone)) {
    throw new Problem(problems, 'validation-failed', `body/timeZone ${timeZone} is not an IANA time zone`, {
      extensions: { errors: [{ field: 'body/timeZone', message: 'is not an IANA time zone' }] },
    });
  }
}

/** Resources are configuration: only admins create and change them. */
const resourceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/resources',
    {
      preHandler: requireRole('admin'),
      schema: {
        operationId: 'createResource',
        summary: 'Create a bookable resource (admin)',
        description: 'The time zone must be one the IANA database knows: another is a 400 naming `body/timeZone`.',
        tags: ['resources'],
        security,
        headers: IdempotencyHeaders,
        body: CreateResourceBody,
        response: {
          201: ResourceSchema,
          ...commonProblems,
          409: problem('the Idempotency-Key is in use by a request still running'),
          422: problem('the Idempotency-Key was used with another request'),
        },
        'x-links': {
          201: {
            Update: { operationId: 'updateResource', parameters: { 'path.id': '$response.body#/id' } },
            Book: { operationId: 'createReservation', requestBody: { resourceId: '$response.body#/id' } },
          },
        },
      },
    },
    async (request, reply) => {
      checkTimeZone(request.body.timeZone);
      return app.commands.run(request, reply, async (conn) => {
        const resource = await createResource(conn, request.body);
        return {
          status: 201,
          body: resource,
          headers: { location: `/v1/resources/${resource.id}`, etag: etag(resource.version) },
        };
      });
    },
  );

  app.patch(
    '/resources/:id',
    {
      preHandler: requireRole('admin'),
      schema: {
        operationId: 'updateResource',
        summary: 'Rename a resource, move its time zone or change its capacity (admin)',
        description: 'The time zone must be one the IANA database knows: another is a 400 naming `body/timeZone`.',
        tags: ['resources'],
        security,
        params: IdParams,
        headers: IdempotencyHeaders,
        body: UpdateResourceBody,
        response: {
          200: ResourceSchema,
          ...commonProblems,
          404: problem('no such resource'),
          409: problem('the Idempotency-Key is in use by a request still running'),
          422: problem('the Idempotency-Key was used with another request'),
        },
      },
    },
    async (request, reply) => {
      checkTimeZone(request.body.timeZone);
      return app.commands.run(request, reply, async (conn) => {
        const resource = await updateResource(conn, request.params.id, request.body);
        return { status: 200, body: resource, headers: { etag: etag(resource.version) } };
      });
    },
  );
};

export default resourceRoutes;
