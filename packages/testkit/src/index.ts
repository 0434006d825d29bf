export * from './test-db';
export * from './test-redis';
export * from './wait-for';
export * from './graph-stand-in';
export * from './processes';
