import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMysqlPool } from '@reservations/service-kit';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { sweepRetention } from '../../src/workers/retention-sweeper.ts';
import { migratedDatabase } from '../support/pipeline.ts';

let pool: Pool;
beforeAll(async () => {
  const db = await migratedDatabase('ntf_retention');
  pool = createMysqlPool(db.primaryUrl, { connectionLimit: 2 });
});
afterAll(async () => {
  await pool?.end();
});

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);

async function processed(days: number): Promise<string> {
  const id = randomUUID();
  await pool.query('INSERT INTO processed_events (event_id, type, processed_at) VALUES (?, ?, ?)', [
    id,
    'reservation.created',
    daysAgo(days),
  ]);
  return id;
}

async function delivery(state: 'pending' | 'delivered' | 'failed', days: number): Promise<string> {
  const id = randomUUID();
  await pool.query(
    'INSERT INTO webhook_deliveries (event_id, provider_id, reservation_id, version, state, next_attempt_at) VALUES (?, ?, ?, 1, ?, ?)',
    [id, 'p', randomUUID(), state, daysAgo(days)],
  );
  return id;
}

const left = async (table: string, ids: string[]) => {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT event_id FROM ${table} WHERE event_id IN (?)`, [ids]);
  return new Set(rows.map((r) => r.event_id as string));
};

describe('retention sweep', () => {
  it('deletes event ids past the deduplication window and finished deliveries past theirs, in batches; keeps the rest', async () => {
    const oldIds = await Promise.all(Array.from({ length: 5 }, () => processed(31)));
    const recentId = await processed(29);
    const oldDelivered = await delivery('delivered', 8);
    const oldFailed = await delivery('failed', 8);
    const recentDelivered = await delivery('delivered', 6);
    const oldPending = await delivery('pending', 400);

    // A batch of 2 makes the sweep loop: 5 old ids take three deletes.
    const deleted = await sweepRetention(pool, { processedEventsDays: 30, deliveriesDays: 7 }, 2);
    expect(deleted).toEqual({ processed_events: 5, webhook_deliveries: 2 });
    expect(await left('processed_events', [...oldIds, recentId])).toEqual(new Set([recentId]));
    expect(await left('webhook_deliveries', [oldDelivered, oldFailed, recentDelivered, oldPending])).toEqual(
      new Set([recentDelivered, oldPending]),
    );

    // Nothing left to delete: a second sweep (another replica's) deletes nothing.
    expect(await sweepRetention(pool, { processedEventsDays: 30, deliveriesDays: 7 }, 2)).toEqual({
      processed_events: 0,
      webhook_deliveries: 0,
    });
  });
});
