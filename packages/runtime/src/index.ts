export * from './shutdown';
export * from './ops-server';
