import { describe, expect, it } from '@jest/globals';
import { analysisQueries, DEFAULT_QUERIES, renderQuery } from '../../../src/traffic/analysis/promql.ts';
import { template } from './templates.ts';

const target = { namespace: 'shop', name: 'booking' };

describe('the default queries', () => {
  it('select the Reservation pods by namespace and pod name, over the interval', () => {
    const queries = analysisQueries(
      template({ prometheus: { url: 'http://prometheus:9090' }, metrics: undefined, interval: '1m30s' }),
      target,
    );
    const pods = 'namespace="shop",pod=~"booking-(reservation-api|query-api|notifier)-[a-z0-9]+-[a-z0-9]+"';
    expect(queries).toEqual({
      requests: `sum(increase(http_request_duration_seconds_count{${pods}}[1m30s]))`,
      successRate:
        `1 - ((sum(rate(http_request_duration_seconds_count{${pods},status_code=~"5.."}[1m30s])) or vector(0))` +
        ` / sum(rate(http_request_duration_seconds_count{${pods}}[1m30s])))`,
      latencyP99: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${pods}}[1m30s])))`,
    });
  });

  it("use the template's own queries, filled in the same way, and keep the default request count", () => {
    const queries = analysisQueries(
      template({
        prometheus: { url: 'http://p', successRate: 'my_success{ns="{{ namespace }}",app="{{name}}"}[{{interval}}]', latencyP99: 'my_p99' },
      }),
      target,
    );
    expect(queries.successRate).toBe('my_success{ns="shop",app="booking"}[30s]');
    expect(queries.latencyP99).toBe('my_p99');
    expect(queries.requests).toBe(renderQuery(DEFAULT_QUERIES.requests, { ...target, interval: '30s' }));
  });

  it('refuse a placeholder they do not know, naming the field', () => {
    expect(() => analysisQueries(template({ prometheus: { url: 'http://p', latencyP99: 'x{pod="{{pod}}"}' } }), target)).toThrow(
      'analysis "slo": prometheus.latencyP99: unknown placeholder {{pod}}; known: {{namespace}}, {{name}}, {{interval}}',
    );
  });
});
