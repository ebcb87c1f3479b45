import { describe, expect, it } from '@jest/globals';
import { COMPONENTS, envFile, selectedComponents } from '../src/harness/index.ts';

describe('selectedComponents', () => {
  it('defaults to every component', () => {
    expect(selectedComponents(undefined)).toEqual([...COMPONENTS]);
  });
  it('takes a comma-separated subset', () => {
    expect(selectedComponents('mysql, redis')).toEqual(['mysql', 'redis']);
  });
  it('names the variable and the unknown component', () => {
    expect(() => selectedComponents('mysql,postgres')).toThrow(
      'HARNESS_COMPONENTS: unknown postgres (known: mysql, redis, sqs, aws, kube, prometheus)',
    );
  });
});

describe('envFile', () => {
  it('writes shell exports, quoting what a shell would expand', () => {
    expect(envFile({ REDIS_URL: 'redis://127.0.0.1:1', MYSQL_PRIMARY_URL: "mysql://a:it's@h/db" })).toBe(
      "export REDIS_URL='redis://127.0.0.1:1'\nexport MYSQL_PRIMARY_URL='mysql://a:it'\\''s@h/db'\n",
    );
  });
});
