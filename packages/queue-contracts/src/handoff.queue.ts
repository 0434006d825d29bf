import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `high`: urgent work, such as telling the team that a conversation needs a person. One job per
 * notification channel (email, CRM, WhatsApp), so a retry repeats only the channel that failed.
 */
export const HandoffNotificationJob = z.object({
  notificationId: z.uuid(),
});
export type HandoffNotificationJob = z.infer<typeof HandoffNotificationJob>;

export const highQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'high',
  schema: HandoffNotificationJob,
  jobName: 'handoff-notification',
  jobId: (data) => `notify-${data.notificationId}`,
  defaultJobOptions: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 2000 },
    priority: 1,
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
