// What tests, benchmarks, the simulation and the playground use: the harness (real servers on
// loopback) and the helpers that sit on it. `@reservations/testkit/error-registry` is separate:
// it declares jest tests, so only a test file may load it.
export * from './aws.ts';
export * from './bundles.ts';
export * from './env.ts';
export * from './harness/cfn-lint.ts';
export * from './harness/chromium.ts';
export * from './harness/elasticmq.ts';
export * from './harness/go-tools.ts';
export * from './harness/index.ts';
export * from './harness/kube.ts';
export * from './harness/log.ts';
export * from './harness/mariadb.ts';
export * from './harness/paths.ts';
export * from './harness/ports.ts';
export * from './harness/proc.ts';
export * from './harness/prometheus.ts';
export * from './harness/redis.ts';
export * from './harness/run-dirs.ts';
export * from './harness/schemathesis.ts';
export * from './poll.ts';
export * from './query-plans.ts';
export * from './route53.ts';
export * from './schemathesis.ts';
export * from './service-process.ts';
export * from './silent-server.ts';
export * from './stats.ts';
