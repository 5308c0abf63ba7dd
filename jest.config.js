const path = require('node:path');

/** The in-repo workspace package `shared/` (its TypeScript sources). */
const SHARED_SRC = path.join(__dirname, 'shared', 'src');

// One jest run over every workspace. Tests import sibling packages from their TypeScript sources
// (moduleNameMapper), so a test never runs against a stale dist/.
/** @type {import('jest').Config} */
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  moduleNameMapper: {
    '^@ecs-srv/shared$': path.join(SHARED_SRC, 'index.ts'),
    '^@ecs-srv/shared/(service-kit|dev-dns)$': path.join(SHARED_SRC, '$1', 'index.ts'),
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: ['shared', 'service-b', 'service-a', 'infra', 'scripts'].map((name) => ({
    ...base,
    displayName: name,
    rootDir: `<rootDir>/${name}`,
  })),
  testTimeout: 20000,
};
