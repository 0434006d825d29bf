/**
 * One jest setup for the whole repository. Tests run from TypeScript sources through @swc/jest
 * (no type-checking here: `npm run typecheck` does that); `@zapflow/*` imports resolve to the
 * packages' sources, so unit and integration tests need no build. End-to-end tests start the
 * built apps (`npm test` builds first).
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleNameMapper: {
    // Prisma's generated client imports its siblings as `./x.js` (ESM-style); the sources are `.ts`.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@zapflow/(config|logger|db|idempotency|queue-contracts|whatsapp|runtime|testkit)$': '<rootDir>/packages/$1/src',
  },
  testMatch: [
    '<rootDir>/apps/*/src/**/*.test.ts',
    '<rootDir>/packages/*/src/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
  ],
  globalSetup: '<rootDir>/packages/testkit/src/global-setup.ts',
  globalTeardown: '<rootDir>/packages/testkit/src/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: two test files at a time; each has its own database and queue prefix.
  maxWorkers: 2,
};
