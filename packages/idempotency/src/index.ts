export * from './idempotency';
export * from './fenced-lock';
export * from './rate-limiter';
