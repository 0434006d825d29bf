export * from './test-db';
export * from './test-redis';
export * from './wait-for';
export * from './graph-stand-in';
export * from './processes';
export * from './openai-stand-in';
export * from './http-receiver';
export * from './smtp-stand-in';
