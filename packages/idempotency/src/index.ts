export * from './idempotency';
export * from './fenced-lock';
