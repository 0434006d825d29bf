export * from './redis';
export * from './define-queue';
export * from './inbox.queue';
export * from './send.queue';
export * from './maintenance.queue';

import { inboxQueue } from './inbox.queue';
import { maintenanceQueue } from './maintenance.queue';
import { sendQueue } from './send.queue';

/** Every queue, for Bull Board and metrics. */
export const ALL_QUEUES = [inboxQueue, sendQueue, maintenanceQueue] as const;
