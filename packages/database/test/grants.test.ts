import { describe, expect, it } from '@jest/globals';
import { grantedTables, grantStatements, parseAccount, revokeStatements, SERVICE_GRANTS } from '../src/grants.ts';

const account = { user: 'query_api', host: '10.0.%' };

describe('grantStatements', () => {
  it("gives query-api SELECT only, and nothing of the notifier's webhook tables", () => {
    expect(grantStatements('query-api', account, 'reservations')).toEqual([
      "GRANT SELECT ON `reservations`.`resources` TO 'query_api'@'10.0.%'",
      "GRANT SELECT ON `reservations`.`reservations` TO 'query_api'@'10.0.%'",
      "GRANT SELECT ON `reservations`.`event_history` TO 'query_api'@'10.0.%'",
      "GRANT SELECT ON `reservations`.`schema_migrations` TO 'query_api'@'10.0.%'",
    ]);
  });

  it('keeps the notifier off reservations and reservation-api off the notifier tables', () => {
    expect(Object.keys(SERVICE_GRANTS.notifier)).not.toContain('reservations');
    expect(SERVICE_GRANTS.notifier.resources).toEqual(['SELECT']);
    const notifierTables = ['processed_events', 'provider_streams', 'event_history', 'webhook_endpoints', 'webhook_deliveries'];
    expect(Object.keys(SERVICE_GRANTS['reservation-api']).filter((t) => notifierTables.includes(t))).toEqual([]);
  });

  it('gives SELECT wherever it gives UPDATE or DELETE (their WHERE clauses read)', () => {
    for (const grants of Object.values(SERVICE_GRANTS)) {
      for (const privileges of Object.values(grants)) {
        if (privileges.includes('UPDATE') || privileges.includes('DELETE')) expect(privileges).toContain('SELECT');
      }
    }
  });

  it('refuses a database name that could end the identifier', () => {
    expect(() => grantStatements('notifier', account, 'x`; DROP DATABASE y')).toThrow(/database name/);
  });
});

describe('revokeStatements', () => {
  it('takes back a database-wide grant and what is beyond the list, nothing it needs', () => {
    const held = [
      { privilege: 'SELECT' },
      { privilege: 'DELETE HISTORY' },
      { table: 'reservations', privilege: 'SELECT' },
      { table: 'reservations', privilege: 'UPDATE' },
      { table: 'webhook_endpoints', privilege: 'SELECT' },
    ];
    expect(revokeStatements('query-api', account, 'reservations', held)).toEqual([
      "REVOKE SELECT, DELETE HISTORY ON `reservations`.* FROM 'query_api'@'10.0.%'",
      "REVOKE UPDATE ON `reservations`.`reservations` FROM 'query_api'@'10.0.%'",
      "REVOKE SELECT ON `reservations`.`webhook_endpoints` FROM 'query_api'@'10.0.%'",
    ]);
  });

  it('is empty when the account holds exactly its grants', () => {
    const held = Object.entries(SERVICE_GRANTS.notifier).flatMap(([table, privileges]) =>
      privileges.map((privilege) => ({ table, privilege })),
    );
    expect(revokeStatements('notifier', account, 'reservations', held)).toEqual([]);
  });
});

describe('parseAccount', () => {
  it('takes name or name@host (any host by default)', () => {
    expect(parseAccount('notifier', 'DB_USER_NOTIFIER')).toEqual({ user: 'notifier', host: '%' });
    expect(parseAccount('notifier@10.1.%', 'DB_USER_NOTIFIER')).toEqual({ user: 'notifier', host: '10.1.%' });
  });

  it('refuses quotes and empty parts, naming the variable', () => {
    expect(() => parseAccount("x'@'%", 'DB_USER_NOTIFIER')).toThrow(/^DB_USER_NOTIFIER: the user name "x'"/);
    expect(() => parseAccount('x@', 'DB_USER_QUERY_API')).toThrow(/^DB_USER_QUERY_API: the host ""/);
    expect(() => parseAccount('@h', 'DB_USER_QUERY_API')).toThrow(/^DB_USER_QUERY_API: the user name ""/);
  });
});

describe('grantedTables', () => {
  it('lists each table once, sorted', () => {
    expect(grantedTables()).toEqual([
      'event_history',
      'idempotency_keys',
      'outbox',
      'processed_events',
      'provider_streams',
      'reservations',
      'resources',
      'schema_migrations',
      'webhook_deliveries',
      'webhook_endpoints',
    ]);
  });
});
