import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BookingSchema } from '@reservations/contracts';
import { Problem, type RouteLinks, requireRole } from '@reservations/service-kit';
import { etag, ifMatchVersion } from '../domain/etag.ts';
import { parseWindow } from '../domain/window.ts';
import { problems } from '../errors.ts';
import { commonProblems, IdempotencyHeaders, IdParams, problem } from '../schemas/common.ts';
import { CreateReservationBody, IfMatchHeaders, OptionalIfMatchHeaders, RescheduleBody } from '../schemas/reservation.ts';
import type { Change } from '../stores/reservation-store.ts';

const security = [{ bearer: [] }];
const changeResponses = {
  200: BookingSchema,
  ...commonProblems,
  404: problem('no such reservation, or not one of yours'),
  409: problem('the reservation cannot change this way (cancelled, hold expired, time taken)'),
  412: problem('If-Match names another version'),
  422: problem('the Idempotency-Key was used with another request'),
};

/** What a client does next with the reservation a response carries (OpenAPI links): its id and ETag. */
const nextChanges = (status: 200 | 201): RouteLinks => {
  const parameters = { 'path.id': '$response.body#/id', 'header.if-match': '$response.header.ETag' };
  return {
    [status]: {
      Confirm: { operationId: 'confirmReservation', parameters },
      Cancel: { operationId: 'cancelReservation', parameters },
      Reschedule: { operationId: 'rescheduleReservation', parameters },
    },
  };
};

const reservationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const location = (id: string) => `/v1/reservations/${id}`;
  const respond = (change: Change, status: number, result: 'created' | 'confirmed' | 'cancelled' | 'rescheduled') => ({
    status,
    body: change.reservation,
    headers: { etag: etag(change.reservation.version), ...(status === 201 ? { location: location(change.reservation.id) } : {}) },
    result: change.changed ? result : ('unchanged' as const),
    afterCommit: () => app.cachePublisher.publish(change),
  });

  app.post(
    '/reservations',
    {
      preHandler: requireRole('customer', 'admin'),
      // Each booking claims capacity: its own, tighter limit than other writes.
      config: { rateLimitClass: 'holds' },
      schema: {
        operationId: 'createReservation',
        summary: 'Book a window on a resource (or hold it until confirmed)',
        description:
          'The window must end after it starts: a window the schema allows but the booking rules do not is a 400 naming the field.',
        tags: ['reservations'],
        security,
        headers: IdempotencyHeaders,
        body: CreateReservationBody,
        response: {
          201: BookingSchema,
          ...commonProblems,
          404: problem('no such resource'),
          409: problem(
            'the window is taken (`conflict` names it), the customer already has as many active holds as allowed (`hold-limit-reached`, `limit` names it), or the Idempotency-Key is in use',
          ),
          422: changeResponses[422],
        },
        'x-links': nextChanges(201),
      },
    },
    async (request, reply) => {
      const { principal, body } = request;
      const window = parseWindow(body.startsAt, body.endsAt);
      if (principal.role !== 'admin' && body.customerId !== undefined && body.customerId !== principal.id) {
        throw new Problem(problems, 'forbidden', 'only an admin may book on behalf of another customer');
      }
      const customerId = body.customerId ?? principal.id;
      return app.commands.run(
        request,
        reply,
        async (conn) =>
          respond(
            await app.reservations.create(conn, {
              resourceId: body.resourceId,
              customerId,
              window,
              hold: body.hold ?? false,
              notes: body.notes ?? null,
            }),
            201,
            'created',
          ),
        { lane: body.resourceId },
      );
    },
  );

  const transitions = [
    {
      verb: 'confirm',
      operationId: 'confirmReservation',
      summary: 'Confirm a held reservation before its hold expires',
      result: 'confirmed',
    },
    { verb: 'cancel', operationId: 'cancelReservation', summary: 'Cancel a reservation; its time is free at once', result: 'cancelled' },
  ] as const;
  for (const { verb, operationId, summary, result } of transitions) {
    app.post(
      `/reservations/:id/${verb}`,
      {
        schema: {
          operationId,
          summary,
          tags: ['reservations'],
          security,
          params: IdParams,
          headers: OptionalIfMatchHeaders,
          response: changeResponses,
          'x-links': nextChanges(200),
        },
      },
      async (request, reply) =>
        app.commands.run(request, reply, async (conn) =>
          respond(
            await app.reservations[verb](conn, request.principal, request.params.id, ifMatch(request.headers['if-match'])),
            200,
            result,
          ),
        ),
    );
  }

  app.patch(
    '/reservations/:id',
    {
      schema: {
        operationId: 'rescheduleReservation',
        summary: 'Reschedule (and/or change the notes); needs If-Match with the current version',
        tags: ['reservations'],
        security,
        params: IdParams,
        headers: IfMatchHeaders,
        body: RescheduleBody,
        response: { ...changeResponses, 428: problem('If-Match is missing') },
        'x-links': nextChanges(200),
      },
      // Before validation, which would call a missing If-Match a 400: RFC 6585 §3 says 428.
      preValidation: async (request) => {
        if (request.headers['if-match'] === undefined) {
          throw new Problem(problems, 'precondition-required', 'send If-Match with the version you read');
        }
      },
    },
    async (request, reply) => {
      const expected = ifMatch(request.headers['if-match']) ?? null;
      const { startsAt, endsAt, notes } = request.body;
      if (startsAt && endsAt) parseWindow(startsAt, endsAt);
      return app.commands.run(request, reply, async (conn) =>
        respond(
          await app.reservations.reschedule(conn, request.principal, request.params.id, expected, {
            ...(startsAt ? { start: new Date(startsAt) } : {}),
            ...(endsAt ? { end: new Date(endsAt) } : {}),
            ...(notes !== undefined ? { notes } : {}),
          }),
          200,
          'rescheduled',
        ),
      );
    },
  );
};

function ifMatch(header: string | string[] | undefined): number | null | undefined {
  return ifMatchVersion(Array.isArray(header) ? header.join(',') : header);
}

export default reservationRoutes;
