import { describe, expect, it } from '@jest/globals';
import { planFindings, summarizePlan } from '../src/query-plans.ts';

// Shapes of MariaDB 10.11's EXPLAIN FORMAT=JSON, trimmed to what the summary reads.
const ordered = {
  query_block: {
    select_id: 1,
    table: { table_name: 'r', access_type: 'ref', key: 'reservations_customer_time', used_key_parts: ['customer_id'], rows: 40 },
  },
};
const sorted = {
  query_block: {
    select_id: 1,
    filesort: {
      sort_key: 'r.starts_at, r.`id`',
      temporary_table: {
        nested_loop: [
          { table: { table_name: 's', access_type: 'ref', key: 'resources_provider', rows: 20 } },
          { table: { table_name: 'r', access_type: 'ref', key: 'reservations_resource_time', rows: 300 } },
        ],
      },
    },
  },
};
const scans = {
  query_block: {
    select_id: 1,
    table: { table_name: 'r', access_type: 'ALL', rows: 50_000 },
    subqueries: [
      {
        query_block: {
          select_id: 2,
          table: {
            table_name: '<derived3>',
            access_type: 'ALL',
            rows: 2,
            materialized: { query_block: { table: { table_name: 'c', access_type: 'index', key: 'reservations_time', rows: 50_000 } } },
          },
        },
      },
    ],
  },
};

describe('summarizePlan and planFindings', () => {
  it('an index read in its order: the access, no finding', () => {
    expect(summarizePlan(ordered)).toEqual({
      accesses: [{ table: 'r', access: 'ref', key: 'reservations_customer_time', keyParts: ['customer_id'], rows: 40, indexOnly: false }],
      filesort: false,
    });
    expect(planFindings(summarizePlan(ordered))).toEqual([]);
  });

  it('a read from the index alone says so', () => {
    const covered = {
      query_block: {
        table: {
          table_name: 'r',
          access_type: 'range',
          key: 'reservations_resource_window',
          used_key_parts: ['resource_id', 'starts_at'],
          rows: 70,
          using_index: true,
        },
      },
    };
    expect(summarizePlan(covered).accesses).toEqual([
      {
        table: 'r',
        access: 'range',
        key: 'reservations_resource_window',
        keyParts: ['resource_id', 'starts_at'],
        rows: 70,
        indexOnly: true,
      },
    ]);
  });

  it('a join sorted afterwards is a filesort, with each table of the nested loop', () => {
    const summary = summarizePlan(sorted);
    expect(summary.accesses.map((a) => `${a.table}:${a.key}`)).toEqual(['s:resources_provider', 'r:reservations_resource_time']);
    expect(planFindings(summary)).toEqual(['filesort']);
  });

  it('full scans of a table and of an index, down in subqueries and materialized tables; MariaDB’s own derived tables are not ours', () => {
    expect(planFindings(summarizePlan(scans))).toEqual(['full scan of r', "full scan of c's index reservations_time (~50000 rows)"]);
  });

  it('an index read in order that stops within the page’s LIMIT is no scan', () => {
    const page = { query_block: { table: { table_name: 'r', access_type: 'index', key: 'reservations_time', rows: 21 } } };
    expect(planFindings(summarizePlan(page), { limit: 21 })).toEqual([]);
    expect(planFindings(summarizePlan(page))).toEqual(["full scan of r's index reservations_time (~21 rows)"]);
  });
});
