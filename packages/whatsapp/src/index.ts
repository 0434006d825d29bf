export * from './signature';
export * from './send-error';
export * from './sender';
export * from './cloud-api.client';
export * from './sandbox.sender';
export * from './webhook';
export * from './inbox-payload';
export * from './evolution-api.client';
