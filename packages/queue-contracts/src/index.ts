export * from './redis';
export * from './define-queue';
export * from './inbox.queue';
export * from './send.queue';
export * from './maintenance.queue';
export * from './turn.queue';
export * from './handoff.queue';

import { highQueue } from './handoff.queue';
import { inboxQueue } from './inbox.queue';
import { maintenanceQueue } from './maintenance.queue';
import { sendQueue } from './send.queue';
import { turnQueue } from './turn.queue';

/** Every queue, for Bull Board and metrics. */
export const ALL_QUEUES = [inboxQueue, turnQueue, sendQueue, highQueue, maintenanceQueue] as const;
