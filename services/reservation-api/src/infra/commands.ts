import { CONSISTENCY_HEADER } from '@reservations/contracts';
import {
  ER_DUP_ENTRY,
  isMysqlError,
  PROBLEM_CONTENT_TYPE,
  Problem,
  type SigningKeys,
  signConsistencyToken,
  withTransaction,
} from '@reservations/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { PoolConnection } from 'mysql2/promise';
import { Gauge, type Registry } from 'prom-client';
import { requestHash } from '../domain/request-hash.ts';
import { problems } from '../errors.ts';
import { deleteExpiredKey, insertKey, type KeyScope, readKey, type StoredResponse } from '../stores/idempotency-store.ts';
import type { CommandResult } from './booking-metrics.ts';
import { createLanes } from './lanes.ts';

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

/** Where a domain refusal rolls the change back to, keeping the key's row to store the refusal on. */
const SAVEPOINT = 'command';

type Answer = StoredResponse & { replayed?: boolean; refused?: boolean };

/**
 * An Idempotency-Key's statements in a command's transaction: the savepoint a refusal rolls back
 * to in START TRANSACTION's round trip, and the key's row with the response in COMMIT's, so the
 * key costs the transaction one statement and no round trip of its own. The benchmark's keyed
 * baseline runs these too, so it measures the same transaction.
 */
export function keyStatements(scope: KeyScope, hash: string, ttlMs: number) {
  return {
    begin: async (conn: PoolConnection) => {
      await conn.query(`START TRANSACTION; SAVEPOINT ${SAVEPOINT}`);
    },
    /** The key's row with its response; a refusal first undoes the change. */
    store: (response: StoredResponse, { refused = false } = {}) => {
      const statement = insertKey(scope, hash, response, ttlMs);
      return refused ? { ...statement, sql: `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; ${statement.sql}` } : statement;
    },
  };
}

/**
 * Runs every state-changing request the same way: one transaction holding the change, its outbox
 * event and, with an Idempotency-Key, the key's row with the response, written at COMMIT. A domain
 * refusal (4xx) with a key is stored too (the change rolled back to a savepoint), so a retry gets
 * the same answer; a 5xx or a crash stores nothing and the key can be retried.
 *
 * While the first request with a key runs, a Redis lease on the key answers its duplicates 409
 * with Retry-After at once, and once it has answered a done marker sends them straight to the
 * stored response. Without Redis the lease is skipped: a duplicate then runs, and the unique key
 * rolls it back at its COMMIT, to answer with the first request's response.
 */
export interface CommandOptions {
  idempotencyTtlMs: number;
  /** The X-Consistency-Token each commit returns is signed with these, for its principal, valid `ttlSeconds`. */
  consistencyTokens: { keys: SigningKeys; ttlSeconds: number };
  /**
   * Transactions of one resource's bookings at once on this pod (`lane`), and how many more may
   * wait for their turn: the others hold no connection, so a hot resource's queue cannot take
   * the whole pool from every other resource's bookings.
   */
  resourceLanes: { width: number; queueLimit: number };
  registry: Registry;
}

export function createCommandRunner(
  app: FastifyInstance,
  { idempotencyTtlMs, consistencyTokens, resourceLanes, registry }: CommandOptions,
) {
  const inProgress = () =>
    new Problem(problems, 'idempotency-in-progress', 'a request with this Idempotency-Key is still running; retry later', {
      headers: { 'retry-after': '1' },
    });
  const lanes = createLanes({
    ...resourceLanes,
    full: () =>
      new Problem(problems, 'overloaded', 'too many bookings of this resource are waiting; retry later', {
        headers: { 'retry-after': '1' },
      }),
  });
  new Gauge({
    name: 'bookings_waiting_for_resource',
    help: "bookings waiting for their turn at their resource's lane (holding no database connection)",
    registers: [registry],
    collect() {
      this.set(lanes.waiting);
    },
  });

  /** The command in its transaction; `duplicate` when the key's row was committed first by another request. */
  async function execute(
    reply: FastifyReply,
    work: (conn: PoolConnection) => Promise<CommandOutcome>,
    scope: KeyScope | undefined,
    hash: string,
    lane: string | undefined,
  ): Promise<{ answer: Answer; outcome?: CommandOutcome; gtid: string } | 'duplicate'> {
    const key = scope && keyStatements(scope, hash, idempotencyTtlMs);
    let gtid = '';
    let outcome: CommandOutcome | undefined;
    let committing = false;
    const transaction = (run: () => Promise<Answer>) => (lane === undefined ? run() : lanes.run(lane, run));
    try {
      const answer = await transaction(() =>
        withTransaction<Answer>(
          app.db,
          async (conn): Promise<Answer> => {
            outcome = undefined;
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
              commitWith: ({ refused, status, headers, body }) => {
                committing = true;
                return key.store({ status, headers, body }, { refused });
              },
            }),
            afterCommit: async (_conn, commit) => {
              gtid =
                (commit as { stateChanges?: { systemVariables?: Record<string, string> } }).stateChanges?.systemVariables?.last_gtid ?? '';
            },
          },
        ),
      );
      return { answer, outcome, gtid };
    } catch (err) {
      if (committing && isMysqlError(err, ER_DUP_ENTRY)) return 'duplicate';
      throw err;
    }
  }

  return {
    /** `lane`: the resource whose lock the transaction takes, if known before it starts (see `resourceLanes`). */
    async run(
      request: FastifyRequest,
      reply: FastifyReply,
      work: (conn: PoolConnection) => Promise<CommandOutcome>,
      { lane }: { lane?: string } = {},
    ): Promise<FastifyReply> {
      const header = request.headers['idempotency-key'];
      const scope: KeyScope | undefined =
        typeof header === 'string'
          ? { caller: request.principal.id, route: `${request.method} ${request.routeOptions.url}`, key: header }
          : undefined;
      const hash = scope ? requestHash(request) : '';
      const leases = app.idempotencyLeases;
      const lease = scope ? await leases.acquire(scope, hash) : undefined;
      if (lease === 'running') throw inProgress();

      let result: Exclude<Awaited<ReturnType<typeof execute>>, 'duplicate'> | undefined;
      let replay: { response: StoredResponse; gtid: string } | undefined;
      try {
        // Answered before (the done marker, or the unique key at COMMIT): its row decides, the
        // key's expiry and the request's hash included. An expired row is deleted and the key run again.
        for (let attempt = 0; attempt < 3 && !result && !replay; attempt++) {
          if (scope && (lease === 'done' || attempt > 0)) {
            const state = await readKey(app.db, scope, hash);
            if (state.kind === 'replay') replay = state;
            else if (state.kind === 'expired') await deleteExpiredKey(app.db, scope);
            if (replay) break;
          }
          const ran = await execute(reply, work, scope, hash, lane);
          if (ran !== 'duplicate') result = ran;
        }
        if (!result && !replay) throw inProgress();
      } catch (err) {
        if (err instanceof Problem) app.bookingMetrics.count(err.code === 'slot-unavailable' ? 'conflict' : 'rejected');
        // Nothing stored (a 5xx, a crash of the transaction): the key is free for a retry at once.
        if (scope && lease === 'acquired' && !(err instanceof Problem && err.status < 500)) await leases.release(scope);
        throw err;
      }
      if (scope && lease !== 'skipped') await leases.done(scope);

      const answer: Answer = replay ? { ...replay.response, replayed: true } : (result as { answer: Answer }).answer;
      const gtid = replay?.gtid ?? result?.gtid ?? '';
      if (replay) app.bookingMetrics.count('replayed');
      else if (result?.outcome) {
        const { outcome } = result;
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
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
      return reply.code(answer.status).send(answer.body);
    },
  };
}

export const commands = fp<CommandOptions>(
  async (app: FastifyInstance, options) => {
    app.decorate('commands', createCommandRunner(app, options));
  },
  { name: 'commands', dependencies: ['db', 'booking-metrics', 'outbox-relay', 'idempotency-leases'] },
);
