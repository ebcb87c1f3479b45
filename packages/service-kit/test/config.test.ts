import { describe, expect, it } from '@jest/globals';
import { Type } from 'typebox';
import { ConfigError, loadConfig, requestLogConfigProperties, secret, serviceConfig } from '../src/config.ts';

const Schema = serviceConfig({
  MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the primary, mysql://user:password@host:port/database' })),
  CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
});

function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(Schema, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('loadConfig', () => {
  it('coerces strings to the declared types, applies defaults and ignores unrelated variables', () => {
    const config = loadConfig(Schema, { MYSQL_PRIMARY_URL: 'mysql://app:pw@db:3306/reservations', PORT: '8080', PATH: '/usr/bin' });
    expect(config).toEqual({
      MYSQL_PRIMARY_URL: 'mysql://app:pw@db:3306/reservations',
      CACHE_TTL_SECONDS: 60,
      HOST: '0.0.0.0',
      PORT: 8080,
      ADMIN_PORT: 9090,
      LOG_LEVEL: 'info',
      SHUTDOWN_DELAY_MS: 5000,
      SHUTDOWN_TIMEOUT_MS: 20000,
      DRAIN_FILE: '/etc/reservation/drain/connection-close',
    });
  });

  it('names a missing variable and says what it is for', () => {
    expect(errorOf({})).toBe(
      'invalid configuration: MYSQL_PRIMARY_URL is required (the primary, mysql://user:password@host:port/database)',
    );
  });

  it('names every malformed variable on one line, with the value it got', () => {
    const message = errorOf({ MYSQL_PRIMARY_URL: 'mysql://x', PORT: 'eighty', LOG_LEVEL: 'loud', CACHE_TTL_SECONDS: '0' });
    expect(message).toBe(
      'invalid configuration: PORT="eighty" must be integer; LOG_LEVEL="loud" must be one of fatal, error, warn, info, debug, trace, silent; CACHE_TTL_SECONDS="0" must be >= 1',
    );
    expect(message).not.toContain('\n');
  });

  it('never prints the value of a secret', () => {
    const message = errorOf({ MYSQL_PRIMARY_URL: 'postgres://app:hunter2@db/x' });
    expect(message).toBe('invalid configuration: MYSQL_PRIMARY_URL (value hidden) must match pattern "^mysql://"');
    expect(message).not.toContain('hunter2');
  });

  it('reads the request log policy, errors-only by default, and refuses an unknown mode or a bad threshold', () => {
    const Api = serviceConfig({ ...requestLogConfigProperties });
    expect(loadConfig(Api, {})).toMatchObject({ LOG_REQUESTS: 'errors', LOG_SLOW_REQUEST_MS: 500 });
    expect(loadConfig(Api, { LOG_REQUESTS: 'all', LOG_SLOW_REQUEST_MS: '250' })).toMatchObject({
      LOG_REQUESTS: 'all',
      LOG_SLOW_REQUEST_MS: 250,
    });
    expect(() => loadConfig(Api, { LOG_REQUESTS: 'some', LOG_SLOW_REQUEST_MS: '0' })).toThrow(
      new ConfigError('invalid configuration: LOG_REQUESTS="some" must be one of errors, all; LOG_SLOW_REQUEST_MS="0" must be >= 1'),
    );
  });
});
