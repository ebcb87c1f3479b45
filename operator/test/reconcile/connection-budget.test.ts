import { describe, expect, it } from '@jest/globals';
import { budgetCondition, connectionBudgets, DEFAULT_POOL_SIZE } from '../../src/reconcile/connection-budget.ts';
import { sampleReservation } from '../support/fixtures.ts';

describe('the connection budget', () => {
  it("counts every pool of every pod at the autoscalers' maxima, per database", () => {
    const [primary, replica] = connectionBudgets(sampleReservation());
    expect(primary).toEqual({
      database: 'primary',
      total: (20 + 40 + 10) * DEFAULT_POOL_SIZE,
      parts: [
        { service: 'reservation-api', pods: 20, poolSize: 20, connections: 400 },
        { service: 'query-api', pods: 40, poolSize: 20, connections: 800 },
        { service: 'notifier', pods: 10, poolSize: 20, connections: 200 },
      ],
    });
    expect(replica).toEqual({
      database: 'replica',
      total: 800,
      parts: [{ service: 'query-api', pods: 40, poolSize: 20, connections: 800 }],
    });
  });

  it("uses a service's MYSQL_POOL_SIZE from its spec env; a value the service refuses opens nothing", () => {
    const cr = sampleReservation();
    cr.spec.services.queryApi.env = [{ name: 'MYSQL_POOL_SIZE', value: '5' }];
    cr.spec.services.notifier.env = [{ name: 'MYSQL_POOL_SIZE', value: 'lots' }];
    const [primary] = connectionBudgets(cr);
    expect(primary?.parts.map((p) => [p.service, p.poolSize])).toEqual([
      ['reservation-api', 20],
      ['query-api', 5],
      ['notifier', 0],
    ]);
    expect(primary?.total).toBe(400 + 200);
  });

  it('is within the limit, or says which database is over, by how much and what to do', () => {
    const budgets = connectionBudgets(sampleReservation());
    expect(budgetCondition(budgets, 2000)).toEqual({
      status: 'True',
      reason: 'WithinConnectionBudget',
      message:
        "at the autoscalers' maxima: primary 1,400 (reservation-api 20 pods × 20, query-api 40 pods × 20, notifier 10 pods × 20); " +
        'replica 800 (query-api 40 pods × 20), within DB_MAX_CONNECTIONS 2,000',
    });
    expect(budgetCondition(budgets, 1000)).toEqual({
      status: 'False',
      reason: 'OverConnectionBudget',
      message:
        "at the autoscalers' maxima the services may open primary 1,400 (reservation-api 20 pods × 20, query-api 40 pods × 20, notifier 10 pods × 20) " +
        'connections, more than DB_MAX_CONNECTIONS 1,000: lower replicas.max or MYSQL_POOL_SIZE, raise max_connections, or put RDS Proxy in front (docs/install.md)',
    });
  });
});
