import { describe, expect, it } from '@jest/globals';
import { ER_STATEMENT_TIMEOUT, mysqlOverload } from '../src/clients/mysql.ts';

describe('mysqlOverload: which database failures are a lack of capacity (503 with Retry-After)', () => {
  it('names a full pool queue (mysql2) and a statement MariaDB aborted past max_statement_time', () => {
    expect(mysqlOverload(new Error('Queue limit reached.'))).toBe('too many requests are waiting for a database connection');
    const aborted = Object.assign(new Error('Query execution was interrupted (max_statement_time exceeded)'), {
      errno: ER_STATEMENT_TIMEOUT,
    });
    expect(mysqlOverload(aborted)).toBe('the database did not answer in time');
  });

  it.each([
    ['a deadlock', Object.assign(new Error('Deadlock found'), { errno: 1213 })],
    ['a duplicate key', Object.assign(new Error('Duplicate entry'), { errno: 1062 })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['not an error at all', 'Queue limit reached.'],
    ['nothing', undefined],
  ])('leaves %s to the other handlers', (_what, err) => {
    expect(mysqlOverload(err)).toBeUndefined();
  });
});
