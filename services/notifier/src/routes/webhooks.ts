import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Problem, problemResponse } from '@reservations/service-kit';
import type { RowDataPacket } from 'mysql2/promise';
import { Type } from 'typebox';
import { privateHostReason } from '../domain/public-address.ts';
import { newSecret } from '../domain/signature.ts';
import { problems } from '../errors.ts';
import { commonProblems, ProviderParams, security } from '../schemas/common.ts';
import { checkProviderAccess } from './access.ts';

const Endpoint = Type.Object({
  url: Type.String({ format: 'uri' }),
  secret: Type.Optional(Type.String({ description: 'the signing secret (`whsec_…`): returned only when created or rotated; keep it' })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

/** After setting the endpoint: read it back, or remove it (OpenAPI links). */
const sameProvider = { 'path.id': '$request.path.id' };
const webhookLinks = {
  Read: { operationId: 'getWebhook', parameters: sameProvider },
  Remove: { operationId: 'deleteWebhook', parameters: sameProvider },
};

type EndpointRow = RowDataPacket & { url: string; secret: string; created_at: Date; updated_at: Date };

export interface WebhookRouteOptions {
  allowHttp: boolean;
  /** Accept endpoints on this host or private networks (local development and tests). */
  allowPrivateAddresses: boolean;
}

const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, { allowHttp, allowPrivateAddresses }) => {
  const read = async (providerId: string) => {
    const [[row]] = await app.db.query<EndpointRow[]>(
      'SELECT url, secret, created_at, updated_at FROM webhook_endpoints WHERE provider_id = ?',
      [providerId],
    );
    return row;
  };
  const render = (row: EndpointRow, withSecret: boolean) => ({
    url: row.url,
    ...(withSecret ? { secret: row.secret } : {}),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  });
  const notFound = (id: string) => new Problem(problems, 'webhook-not-found', `provider ${id} has no webhook endpoint`);

  app.put(
    '/providers/:id/webhook',
    {
      schema: {
        operationId: 'setWebhook',
        summary: 'Set where this provider’s notifications are POSTed (signed); the secret comes back when created or rotated',
        description: 'The URL must be reachable on the internet (no private or loopback address): otherwise a 400 naming `body/url`.',
        tags: ['webhooks'],
        security,
        params: ProviderParams,
        body: Type.Object(
          {
            url: Type.String({ format: 'uri', maxLength: 2048, pattern: allowHttp ? '^https?://' : '^https://' }),
            rotateSecret: Type.Optional(Type.Boolean({ description: 'issue a new signing secret' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Endpoint, 201: Endpoint, ...commonProblems },
        'x-links': { 200: webhookLinks, 201: webhookLinks },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      checkProviderAccess(request.principal, id);
      // The delivery checks every address the name resolves to as well (publicOnlyLookup); this
      // refuses what is private on its face at once, with a message the provider can act on.
      const refused = allowPrivateAddresses ? undefined : privateHostReason(new URL(request.body.url));
      if (refused) {
        const message = `must be reachable on the internet: ${refused}`;
        throw new Problem(problems, 'validation-failed', `url ${message}`, { extensions: { errors: [{ field: 'body/url', message }] } });
      }
      const existing = await read(id);
      const secret = !existing || request.body.rotateSecret ? newSecret() : existing.secret;
      await app.db.query(
        `INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE url = VALUES(url), secret = VALUES(secret), updated_at = NOW(3)`,
        [id, request.body.url, secret],
      );
      const row = (await read(id)) as EndpointRow;
      return reply.code(existing ? 200 : 201).send(render(row, secret !== existing?.secret));
    },
  );

  app.get(
    '/providers/:id/webhook',
    {
      schema: {
        operationId: 'getWebhook',
        summary: 'This provider’s webhook endpoint (without its secret)',
        tags: ['webhooks'],
        security,
        params: ProviderParams,
        response: { 200: Endpoint, ...commonProblems, 404: problemResponse('no webhook endpoint is set') },
      },
    },
    async (request) => {
      checkProviderAccess(request.principal, request.params.id);
      const row = await read(request.params.id);
      if (!row) throw notFound(request.params.id);
      return render(row, false);
    },
  );

  app.delete(
    '/providers/:id/webhook',
    {
      schema: {
        operationId: 'deleteWebhook',
        summary: 'Stop webhooks for this provider (pending deliveries are given up)',
        tags: ['webhooks'],
        security,
        params: ProviderParams,
        response: { 204: Type.Null(), ...commonProblems, 404: problemResponse('no webhook endpoint is set') },
      },
    },
    async (request, reply) => {
      checkProviderAccess(request.principal, request.params.id);
      const [result] = (await app.db.query('DELETE FROM webhook_endpoints WHERE provider_id = ?', [request.params.id])) as unknown as [
        { affectedRows: number },
      ];
      if (result.affectedRows === 0) throw notFound(request.params.id);
      return reply.code(204).send(null);
    },
  );
};

export default webhookRoutes;
