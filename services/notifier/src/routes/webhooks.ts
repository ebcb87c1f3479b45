import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Problem, problemResponse, withTransaction } from '@reservations/service-kit';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { Type } from 'typebox';
import { currentSealed, inOverlap, SECRET_COLUMN_NAMES, type SecretColumns, sealedColumns } from '../domain/endpoint-secrets.ts';
import { privateHostReason } from '../domain/public-address.ts';
import { seal } from '../domain/secret-box.ts';
import { newSecret } from '../domain/signature.ts';
import { problems } from '../errors.ts';
import { commonProblems, ProviderParams, security } from '../schemas/common.ts';
import { checkProviderAccess } from './access.ts';

const Endpoint = Type.Object({
  url: Type.String({ format: 'uri' }),
  secret: Type.Optional(Type.String({ description: 'the signing secret (`whsec_…`): returned only when created or rotated; keep it' })),
  previousSecretExpiresAt: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'during a rotation’s overlap: until when the previous secret still signs every delivery, beside the current one',
    }),
  ),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

/** After setting the endpoint: read it back, or remove it (OpenAPI links). */
const sameProvider = { 'path.id': '$request.path.id' };
const webhookLinks = {
  Read: { operationId: 'getWebhook', parameters: sameProvider },
  Remove: { operationId: 'deleteWebhook', parameters: sameProvider },
};

type EndpointRow = RowDataPacket & SecretColumns & { url: string; created_at: Date; updated_at: Date };

/** The longest overlap a rotation may ask for: an old secret that signs for weeks is hardly rotated. */
const MAX_OVERLAP_SECONDS = 604_800;

export interface WebhookRouteOptions {
  allowHttp: boolean;
  /** Accept endpoints on this host or private networks (local development and tests). */
  allowPrivateAddresses: boolean;
  /** How long a rotated-out secret still signs, unless the rotation asks for another window. */
  overlapSeconds: number;
}

const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (app, { allowHttp, allowPrivateAddresses, overlapSeconds }) => {
  const read = async (providerId: string, conn: Pool | PoolConnection = app.db, lock = false) => {
    const [[row]] = await conn.query<EndpointRow[]>(
      `SELECT url, ${SECRET_COLUMN_NAMES.join(', ')}, created_at, updated_at FROM webhook_endpoints WHERE provider_id = ?${lock ? ' FOR UPDATE' : ''}`,
      [providerId],
    );
    return row;
  };
  /** The endpoint as the API shows it; `secret` only when it was just issued (it is never read back). */
  const render = (row: EndpointRow, secret?: string) => ({
    url: row.url,
    ...(secret ? { secret } : {}),
    ...(inOverlap(row, new Date()) ? { previousSecretExpiresAt: (row.previous_secret_until as Date).toISOString() } : {}),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  });
  const notFound = (id: string) => new Problem(problems, 'webhook-not-found', `provider ${id} has no webhook endpoint`);

  /**
   * Issues a new secret for the provider's endpoint (and moves it to `url`, if given): the
   * current one becomes the previous one, still signing for `overlap` seconds (none: it stops at
   * once, as after a leak); a previous one still in its overlap stops. Undefined when there is no
   * endpoint. The old box moves as it is (it is bound to the provider, not to its column).
   */
  const rotate = (id: string, overlap: number, url?: string) =>
    withTransaction(app.db, async (conn) => {
      const row = await read(id, conn, true);
      if (!row) return undefined;
      const secret = newSecret();
      const previous = overlap > 0 ? (currentSealed(row) ?? (row.secret ? seal(app.secretKeys, row.secret, id) : undefined)) : undefined;
      const next = sealedColumns(app.secretKeys, id, secret);
      await conn.query(
        `UPDATE webhook_endpoints SET url = COALESCE(?, url), secret = ?, secret_key_id = ?, secret_sealed = ?,
           previous_secret_key_id = ?, previous_secret_sealed = ?, previous_secret_until = IF(? IS NULL, NULL, NOW(3) + INTERVAL ? SECOND),
           updated_at = NOW(3)
         WHERE provider_id = ?`,
        [
          url ?? null,
          next.secret,
          next.secret_key_id,
          next.secret_sealed,
          previous?.keyId ?? null,
          previous?.box ?? null,
          previous?.keyId ?? null,
          overlap,
          id,
        ],
      );
      return { secret, row: (await read(id, conn)) as EndpointRow };
    });

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
            rotateSecret: Type.Optional(
              Type.Boolean({
                description:
                  'issue a new signing secret; the old one still signs for the default overlap (POST …/webhook/rotate-secret chooses the window)',
              }),
            ),
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
      if (request.body.rotateSecret) {
        const rotated = await rotate(id, overlapSeconds, request.body.url);
        if (rotated) return reply.code(200).send(render(rotated.row, rotated.secret));
      }
      // A new endpoint gets a secret; an existing one keeps its own (the insert's values are not used).
      const secret = newSecret();
      const sealed = sealedColumns(app.secretKeys, id, secret);
      await app.db.query(
        `INSERT INTO webhook_endpoints (provider_id, url, secret_key_id, secret_sealed) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE url = VALUES(url), updated_at = NOW(3)`,
        [id, request.body.url, sealed.secret_key_id, sealed.secret_sealed],
      );
      const row = (await read(id)) as EndpointRow;
      // Ours if the row holds our box (random, so no other write's); affectedRows cannot tell an
      // insert from an update that changed nothing (mysql2 counts found rows).
      const created = row.secret_sealed?.equals(sealed.secret_sealed) === true;
      return reply.code(created ? 201 : 200).send(render(row, created ? secret : undefined));
    },
  );

  app.post(
    '/providers/:id/webhook/rotate-secret',
    {
      schema: {
        operationId: 'rotateWebhookSecret',
        summary: 'Issue a new signing secret; the old one keeps signing beside it for an overlap window',
        description:
          'The new secret comes back once (`{}` asks for the default overlap). Until `previousSecretExpiresAt` every delivery’s `webhook-signature` carries two signatures (`v1,<new> v1,<old>`), so a receiver verifies with whichever secret it has; after it, only the new one. `overlapSeconds: 0` stops the old secret at once (a leaked secret). A rotation during an overlap ends that overlap: only the secret just replaced keeps signing.',
        tags: ['webhooks'],
        security,
        params: ProviderParams,
        body: Type.Object(
          {
            overlapSeconds: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: MAX_OVERLAP_SECONDS,
                description: 'how long the old secret still signs (default: the notifier’s WEBHOOK_SECRET_OVERLAP_SECONDS)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Endpoint, ...commonProblems, 404: problemResponse('no webhook endpoint is set') },
        'x-links': { 200: webhookLinks },
      },
    },
    async (request) => {
      const { id } = request.params;
      checkProviderAccess(request.principal, id);
      const rotated = await rotate(id, request.body.overlapSeconds ?? overlapSeconds);
      if (!rotated) throw notFound(id);
      return render(rotated.row, rotated.secret);
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
      return render(row);
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
