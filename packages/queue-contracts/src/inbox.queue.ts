import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `inbox`: one job per inbox event (an inbound message or a delivery status) that the webhook
 * recorded. The job carries only the row id; the worker reads the rest from PostgreSQL.
 */
export const InboxJob = z.object({
  inboxEventId: z.uuid(),
  kind: z.enum(['message', 'status']),
});
export type InboxJob = z.infer<typeof InboxJob>;

export const inboxQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'inbox',
  schema: InboxJob,
  jobName: 'inbox-event',
  jobId: (data) => `inbox-${data.inboxEventId}`,
  defaultJobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
