// TypeScript runs as native ESM: swc strips the types and keeps the imports.
/** @type {import('jest').Config['transform']} */
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2024' }, module: { type: 'es6' } }],
};
/** @type {import('jest').Config} */
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  roots: [
    '<rootDir>/packages',
    '<rootDir>/scripts',
    '<rootDir>/services',
    '<rootDir>/operator',
    '<rootDir>/charts',
    '<rootDir>/infra',
    '<rootDir>/images',
  ],
};

/** @type {import('jest').Config} */
const config = {
  // A global option (projects cannot set it): generous, since integration tests wait on real servers.
  testTimeout: 60_000,
  // Two files at a time, also on 2 cores: most integration tests wait (on Route53's PENDING, TTLs,
  // a browser) rather than compute, so two overlap well (docs/setup-times.md has the figures).
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['**/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.test\\.ts$'],
    },
    {
      // Against real servers on loopback, started once by the harness.
      ...common,
      displayName: 'integration',
      testMatch: ['**/test/**/*.int.test.ts'],
      globalSetup: '<rootDir>/scripts/jest/global-setup.ts',
      globalTeardown: '<rootDir>/scripts/jest/global-teardown.ts',
    },
  ],
};

export default config;
