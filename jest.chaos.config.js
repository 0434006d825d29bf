/**
 * `npm run test:chaos`: the chaos runs (test/chaos), one at a time. They restart Redis and stop
 * PostgreSQL, so nothing else may run beside them; they are not part of `npm test`.
 * @type {import('jest').Config}
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/chaos/**/*.chaos.ts'],
  maxWorkers: 1,
  testTimeout: 900_000,
};
