import { describe, expect, it } from '@jest/globals';
import { parseExposition } from '../../../src/traffic/analysis/exposition.ts';

describe('parseExposition', () => {
  it('reads samples with labels, skipping HELP, TYPE and comments', () => {
    const text = [
      '# HELP http_request_duration_seconds HTTP request duration',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.005",service="query-api",method="GET",route="/v1/x/:id",status_code="200"} 3',
      'http_request_duration_seconds_bucket{le="+Inf",service="query-api",method="GET",route="/v1/x/:id",status_code="200"} 4',
      'http_request_duration_seconds_count{service="query-api",method="GET",route="/v1/x/:id",status_code="200"} 4',
      '',
      '# a comment',
      'process_start_time_seconds 1764064800',
    ].join('\n');
    expect(parseExposition(text)).toEqual([
      {
        name: 'http_request_duration_seconds_bucket',
        labels: { le: '0.005', service: 'query-api', method: 'GET', route: '/v1/x/:id', status_code: '200' },
        value: 3,
      },
      {
        name: 'http_request_duration_seconds_bucket',
        labels: { le: '+Inf', service: 'query-api', method: 'GET', route: '/v1/x/:id', status_code: '200' },
        value: 4,
      },
      {
        name: 'http_request_duration_seconds_count',
        labels: { service: 'query-api', method: 'GET', route: '/v1/x/:id', status_code: '200' },
        value: 4,
      },
      { name: 'process_start_time_seconds', labels: {}, value: 1764064800 },
    ]);
  });

  it.each([
    ['escaped quotes, backslashes and newlines', 'm{path="a\\"b\\\\c\\nd"} 1', { path: 'a"b\\c\nd' }, 1],
    ['a comma and braces inside a value', 'm{route="/x/{id},y"} 2', { route: '/x/{id},y' }, 2],
    ['a trailing comma and spaces', 'm{ a = "1" , } 3', { a: '1' }, 3],
    ['a timestamp after the value', 'm{a="1"} 4 1764064800000', { a: '1' }, 4],
    ['no labels, empty braces', 'm{} 5', {}, 5],
    ['exponent', 'm 1.5e3', {}, 1500],
    ['+Inf', 'm +Inf', {}, Number.POSITIVE_INFINITY],
    ['-Inf', 'm -Inf', {}, Number.NEGATIVE_INFINITY],
  ])('reads %s', (_, line, labels, value) => {
    expect(parseExposition(line)).toEqual([{ name: 'm', labels, value }]);
  });

  it('reads NaN', () => {
    expect(parseExposition('m NaN')[0]?.value).toBeNaN();
  });

  it('keeps only the names asked for, without parsing the rest', () => {
    expect(parseExposition('a 1\nb{broken 2\nc 3', (n) => n !== 'b')).toEqual([
      { name: 'a', labels: {}, value: 1 },
      { name: 'c', labels: {}, value: 3 },
    ]);
  });

  it.each([
    ['m{a="1"}', 'metrics line 2: "" is not a number: m{a="1"}'],
    ['m 0x10', 'metrics line 2: "0x10" is not a number: m 0x10'],
    ['m{a=1} 2', 'metrics line 2: label a: value not quoted: m{a=1} 2'],
    ['m{a="1} 2', 'metrics line 2: unterminated label value: m{a="1} 2'],
    ['m{a="1" b="2"} 2', 'metrics line 2: label a: expected , or } at column 9: m{a="1" b="2"} 2'],
    ['{a="1"} 2', 'metrics line 2: no metric name: {a="1"} 2'],
  ])('refuses %s, naming the line', (line, message) => {
    expect(() => parseExposition(`ok 1\n${line}`)).toThrow(message);
  });
});
