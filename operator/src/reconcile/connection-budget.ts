import type { Reservation, ServiceName } from '../api/v1alpha1/reservation.ts';
import { SERVICES } from '../desired/metadata.ts';
import { formatCount } from '../traffic/analysis/judge.ts';

/**
 * The database connections a Reservation's services may open at their autoscalers' maxima
 * (pure): every pod opens up to MYSQL_POOL_SIZE connections per pool, and nothing else bounds
 * the total. A default max_connections is far below what the sample's maxima could open, and
 * the first sign of it otherwise is `Too many connections` under the load that scaled them out.
 */

/** The services' own default pool size (MYSQL_POOL_SIZE in each service's config.ts). */
export const DEFAULT_POOL_SIZE = 20;

/**
 * Aurora MySQL's default max_connections on db.r6g.large (the smallest production class
 * docs/install.md names); the operator's DB_MAX_CONNECTIONS overrides it.
 */
export const DEFAULT_MAX_CONNECTIONS = 1000;

/** Pools per pod, by database: query-api reads the replica and falls back to the primary. */
const POOLS: Record<ServiceName, { primary: number; replica: number }> = {
  reservationApi: { primary: 1, replica: 0 },
  queryApi: { primary: 1, replica: 1 },
  notifier: { primary: 1, replica: 0 },
};

export interface BudgetPart {
  service: string;
  pods: number;
  poolSize: number;
  connections: number;
}

export interface ConnectionBudget {
  database: 'primary' | 'replica';
  total: number;
  parts: BudgetPart[];
}

/** Each database's connections at the maxima, with the parts that make it up. */
export function connectionBudgets(cr: Pick<Reservation, 'spec'>): ConnectionBudget[] {
  return (['primary', 'replica'] as const).map((database) => {
    const parts: BudgetPart[] = [];
    for (const service of Object.keys(POOLS) as ServiceName[]) {
      const pools = POOLS[service][database];
      if (pools === 0) continue;
      const spec = cr.spec.services[service];
      const pods = spec.replicas.max;
      const poolSize = poolSizeOf(spec.env);
      parts.push({ service: SERVICES[service].component, pods, poolSize, connections: pods * poolSize * pools });
    }
    return { database, total: parts.reduce((sum, p) => sum + p.connections, 0), parts };
  });
}

/** The pool size a service runs with: its spec env's MYSQL_POOL_SIZE, else the services' default. */
function poolSizeOf(env: readonly { name: string; value: string }[]): number {
  const value = env.find((e) => e.name === 'MYSQL_POOL_SIZE')?.value;
  const size = value !== undefined && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  // A value the service would refuse keeps it from starting at all: it opens no connection.
  return Number.isSafeInteger(size) && size >= 1 ? size : value === undefined ? DEFAULT_POOL_SIZE : 0;
}

/** The condition: within the limit, or the first database over it and how to fix it. */
export function budgetCondition(
  budgets: readonly ConnectionBudget[],
  limit: number,
): { status: 'True' | 'False'; reason: string; message: string } {
  const describe = (b: ConnectionBudget) =>
    `${b.database} ${formatCount(b.total)} (${b.parts.map((p) => `${p.service} ${p.pods} pods × ${p.poolSize}`).join(', ')})`;
  const over = budgets.filter((b) => b.total > limit);
  if (over.length === 0) {
    return {
      status: 'True',
      reason: 'WithinConnectionBudget',
      message: `at the autoscalers' maxima: ${budgets.map(describe).join('; ')}, within DB_MAX_CONNECTIONS ${formatCount(limit)}`,
    };
  }
  return {
    status: 'False',
    reason: 'OverConnectionBudget',
    message:
      `at the autoscalers' maxima the services may open ${over.map(describe).join('; ')} connections, more than DB_MAX_CONNECTIONS ` +
      `${formatCount(limit)}: lower replicas.max or MYSQL_POOL_SIZE, raise max_connections, or put RDS Proxy in front (docs/install.md)`,
  };
}
