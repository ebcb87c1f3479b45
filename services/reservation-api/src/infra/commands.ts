import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { PROBLEM_CONTENT_TYPE, Problem, type SigningKeys, signConsistencyToken, withTransaction } from '@reservations/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { requestHash } from '../domain/request-hash.ts';
import { type Claim, claimKey, type KeyScope, type StoredResponse, storeResponse } from '../stores/idempotency-store.ts';
import type { CommandResult } from './booking-metrics.ts';

/** What a command hands back: the status, the body (serialised by the route's response schema) and headers. */
export interface CommandOutcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** For `reservations_total`; resource commands leave it out. */
  result?: CommandResult;
  /** Runs after the commit, with what was sent (e.g. publish the new version to the cache). */
  afterCommit?: () => Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    commands: ReturnType<typeof createCommandRunner>;
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Where a domain refusal rolls the change back to, keeping the key row to store the refusal on. */
const SAVEPOINT = 'command';

type Answer = StoredResponse & { replayed?: boolean; refused?: boolean };

/**
 * An Idempotency-Key's statements in a command's transaction: the claim (and the savepoint a
 * refusal rolls back to) in START TRANSACTION's round trip, the response in COMMIT's. The
 * benchmark's keyed baseline runs these too, so it measures the same transaction.
 */
export function keyStatements(scope: KeyScope, hash: string, ttlMs: number) {
  return {
    begin: (conn: PoolConnection) => claimKey(conn, scope, hash, { ttlMs, before: 'START TRANSACTION', after: `SAVEPOINT ${SAVEPOINT}` }),
    /** The stored response; a refusal first undoes the change, keeping the key row. */
    store: (response: StoredResponse, { refused = false } = {}) => {
      const statement = storeResponse(scope, response);
      return refused ? { ...statement, sql: `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; ${statement.sql}` } : statement;
    },
  };
}

/**
 * Runs every state-changing request the same way: one transaction holding the Idempotency-Key
 * row, the change and its outbox event. A domain refusal (4xx) with a key is stored too (the
 * change is rolled back to a savepoint, the key row kept), so a retry gets the same answer; a
 * 5xx or a crash stores nothing and the key can be retried. With a key, the claim travels in
 * START TRANSACTION's round trip and the stored response in COMMIT's, so the key costs the
 * transaction no round trip of its own.
 */
export interface CommandOptions {
  idempotencyTtlMs: number;
  /** The X-Consistency-Token each commit returns is signed with these, for its principal, valid `ttlSeconds`. */
  consistencyTokens: { keys: SigningKeys; ttlSeconds: number };
}

export function createCommandRunner(app: FastifyInstance, { idempotencyTtlMs, consistencyTokens }: CommandOptions) {
  return {
    async run(
      request: FastifyRequest,
      reply: FastifyReply,
      work: (conn: PoolConnection) => Promise<CommandOutcome>,
    ): Promise<FastifyReply> {
      const header = request.headers['idempotency-key'];
      const scope: KeyScope | undefined =
        typeof header === 'string'
          ? { caller: request.principal.id, route: `${request.method} ${request.routeOptions.url}`, key: header }
          : undefined;
      const hash = scope ? requestHash(request) : '';
      const key = scope && keyStatements(scope, hash, idempotencyTtlMs);
      let gtid = '';
      let outcome: CommandOutcome | undefined;
      const response = await withTransaction<Answer, Claim | undefined>(
        app.db,
        async (conn, claim): Promise<Answer> => {
          outcome = undefined;
          if (claim?.kind === 'replay') return { ...claim.response, replayed: true };
          try {
            outcome = await work(conn);
            reply.code(outcome.status);
            return {
              status: outcome.status,
              headers: { 'content-type': JSON_TYPE, ...outcome.headers },
              body: reply.serialize(outcome.body) as string,
            };
          } catch (err) {
            // A refusal is stored for the key's retries, but not bad input (400): nothing is written for it.
            if (!(scope && err instanceof Problem && err.status < 500 && err.status !== 400)) throw err;
            app.bookingMetrics.count(err.code === 'slot-unavailable' ? 'conflict' : 'rejected');
            return {
              status: err.status,
              headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...err.headers },
              body: JSON.stringify(err.toJSON()),
              refused: true,
            };
          }
        },
        {
          ...(key && {
            begin: key.begin,
            commitWith: ({ replayed, refused, status, headers, body }) =>
              replayed ? undefined : key.store({ status, headers, body }, { refused }),
          }),
          afterCommit: async (conn, commit) => {
            const tracked = (commit as { stateChanges?: { systemVariables?: Record<string, string> } }).stateChanges?.systemVariables
              ?.last_gtid;
            if (tracked !== undefined) {
              gtid = tracked;
              return;
            }
            // Nothing was logged (a replay): the current binlog position includes the original write.
            const [[row]] = await conn.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS gtid');
            gtid = String(row?.gtid ?? '');
          },
        },
      ).catch((err: unknown) => {
        if (err instanceof Problem) app.bookingMetrics.count(err.code === 'slot-unavailable' ? 'conflict' : 'rejected');
        throw err;
      });

      if (response.replayed) app.bookingMetrics.count('replayed');
      else if (outcome) {
        // The change's outbox event committed with it: send it now rather than at the next poll.
        app.outboxRelay.wake();
        if (outcome.result) app.bookingMetrics.count(outcome.result);
        await outcome
          .afterCommit?.()
          .catch((err: unknown) => request.log.warn({ err }, 'after-commit step failed; readers fall back to the database'));
      }
      if (gtid) {
        const { keys, ttlSeconds } = consistencyTokens;
        reply.header(CONSISTENCY_HEADER, signConsistencyToken(keys, { gtid, principal: request.principal, ttlSeconds }));
      }
      if (response.replayed) reply.header('idempotent-replayed', 'true');
      for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
      return reply.code(response.status).send(response.body);
    },
  };
}

export const commands = fp<CommandOptions>(
  async (app: FastifyInstance, options) => {
    app.decorate('commands', createCommandRunner(app, options));
  },
  { name: 'commands', dependencies: ['db', 'booking-metrics', 'outbox-relay'] },
);
