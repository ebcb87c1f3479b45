// Query plans for tests: what MariaDB's EXPLAIN FORMAT=JSON says a statement will read, and a
// recorder that explains every statement code runs through a connection, at the moment it runs.

/** One table read in a plan: its alias, how (`ref`, `range`, `eq_ref`, `const`, `ALL`, …), by which index, and the rows estimated. */
export interface TableAccess {
  table: string;
  access: string;
  key: string | null;
  /**
   * The index's columns the read seeks on: a `ref` on `(resource_id)` of a `(resource_id,
   * starts_at)` index reads every entry of the resource, whatever `rows` estimates.
   */
  keyParts: string[];
  rows: number;
  /** Read from the index alone (MariaDB's `using_index`): no lookup of each entry's row. */
  indexOnly: boolean;
}

export interface PlanSummary {
  accesses: TableAccess[];
  /** Some step sorts rows itself rather than reading them in an index's order. */
  filesort: boolean;
}

/** Walks MariaDB's EXPLAIN FORMAT=JSON (nested loops, subqueries, derived and materialized tables, sorts). */
export function summarizePlan(explain: unknown): PlanSummary {
  const accesses: TableAccess[] = [];
  let filesort = false;
  const walk = (node: unknown, key?: string) => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (key === 'filesort') filesort = true;
    const o = node as Record<string, unknown>;
    if (typeof o.table_name === 'string' && typeof o.access_type === 'string') {
      accesses.push({
        table: o.table_name,
        access: o.access_type,
        key: typeof o.key === 'string' ? o.key : null,
        keyParts: Array.isArray(o.used_key_parts) ? o.used_key_parts.map(String) : [],
        rows: Number(o.rows ?? 0),
        indexOnly: o.using_index === true,
      });
    }
    for (const [k, v] of Object.entries(o)) walk(v, k);
  };
  walk(explain);
  return { accesses, filesort };
}

/** A derived table, a union's result or a subquery's materialization: MariaDB's own, in memory, not a table of ours. */
const internal = (table: string) => table.startsWith('<');

/**
 * What is wrong with a plan on the booking paths: a full scan of a table or of an index, a
 * filesort. An index read in order (`index`) that MariaDB expects to stop within `limit` rows
 * (a page's `LIMIT`, which it shows as the estimate) is the first rows of the index, not a scan.
 */
export function planFindings(summary: PlanSummary, { limit = 0 }: { limit?: number } = {}): string[] {
  const findings: string[] = [];
  for (const a of summary.accesses) {
    if (internal(a.table)) continue;
    if (a.access === 'ALL') findings.push(`full scan of ${a.table}`);
    if (a.access === 'index' && a.rows > limit) findings.push(`full scan of ${a.table}'s index ${a.key} (~${a.rows} rows)`);
  }
  if (summary.filesort) findings.push('filesort');
  return findings;
}

/** The statements EXPLAIN can describe; a transaction's control statements are not plans. */
const EXPLAINABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b/i;

export interface ExplainedStatement {
  sql: string;
  plan: PlanSummary;
}

interface Queryable {
  query(...args: never[]): Promise<unknown>;
}

/**
 * `target` (a mysql2 connection or pool) whose `query` first runs `EXPLAIN FORMAT=JSON` of the
 * same statement with the same values (named placeholders too), then the statement itself, and
 * records each plan in `plans`: the code under test runs unchanged, and every statement it sends
 * is explained on the data as it stood when it ran.
 */
export function explaining<T extends Queryable>(target: T, plans: ExplainedStatement[]): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      if (prop !== 'query') return Reflect.get(obj, prop, receiver);
      return async (statement: string | { sql: string; namedPlaceholders?: boolean }, values?: unknown) => {
        const sql = typeof statement === 'string' ? statement : statement.sql;
        const query = obj.query.bind(obj) as (s: unknown, v?: unknown) => Promise<[Record<string, string>[], unknown]>;
        // Several statements in one round trip are explained one by one when their values are
        // named (each takes its own from the same object); positional `?` cannot be split.
        const named = typeof statement !== 'string' && statement.namedPlaceholders === true;
        const parts = named ? sql.split(';') : sql.includes(';') ? [] : [sql];
        for (const part of parts.filter((p) => EXPLAINABLE.test(p))) {
          const explain = `EXPLAIN FORMAT=JSON ${part}`;
          const [[row]] = await query(typeof statement === 'string' ? explain : { ...statement, sql: explain }, values);
          plans.push({ sql: part.replace(/\s+/g, ' ').trim(), plan: summarizePlan(JSON.parse(Object.values(row ?? {})[0] ?? '{}')) });
        }
        return (obj.query as (s: unknown, v?: unknown) => Promise<unknown>).call(obj, statement, values);
      };
    },
  });
}
