// End-to-end tests: real processes (BIND 9's named, service-b tasks, service-a) on loopback. They run the
// built services (dist/), so `npm run test:e2e` builds first; run them one file at a time (--runInBand).
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'e2e',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  testMatch: ['<rootDir>/**/*.e2e.test.ts'],
  // Scenarios wait on DNS TTLs (10 s) and drains (15 s): each test sets its own bound below this.
  testTimeout: 120_000,
  maxWorkers: 1,
};
