const path = require('node:path');

/** The in-repo workspace packages (name → folder), mapped to their TypeScript sources below. */
const PACKAGES = {
  '@ecs-srv/shared': 'shared',
  '@ecs-srv/service-kit': 'shared/kit',
  '@ecs-srv/dev-server': 'shared/dev-server',
};

// One jest run over every workspace. Tests import sibling packages from their TypeScript sources
// (moduleNameMapper), so a test never runs against a stale dist/.
/** @type {import('jest').Config} */
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  moduleNameMapper: {
    ...Object.fromEntries(
      Object.entries(PACKAGES).map(([name, dir]) => [
        `^${name.replace('/', '\\/')}$`,
        path.join(__dirname, dir, 'src', 'index.ts'),
      ]),
    ),
    // The client's integration entry points (`exports` "./axios", "./undici").
    '^@ecs-srv/shared/(axios|undici)$': path.join(__dirname, 'shared', 'src', '$1.ts'),
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: ['shared', 'shared/kit', 'shared/dev-server', 'service-b', 'service-a', 'infra', 'scripts'].map(
    (name) => ({
      ...base,
      displayName: name,
      rootDir: `<rootDir>/${name}`,
    }),
  ),
  testTimeout: 20000,
};
