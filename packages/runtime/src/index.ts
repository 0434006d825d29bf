export * from './shutdown';
export * from './ops-server';
export * from './http-close';
