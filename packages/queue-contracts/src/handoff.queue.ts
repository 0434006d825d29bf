import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `high`: urgent work for the team, one job per notification channel (email, CRM, WhatsApp), so a
 * retry repeats only the channel that failed: a conversation that needs a person (a handoff
 * notification row), or an operator alert about a message that could not be sent.
 */
export const HandoffNotificationJob = z.object({
  notificationId: z.uuid(),
});
export type HandoffNotificationJob = z.infer<typeof HandoffNotificationJob>;

export const OperatorAlertJob = z.object({
  alert: z.literal('send_failed'),
  messageId: z.uuid(),
  channel: z.enum(['email', 'crm', 'whatsapp']),
});
export type OperatorAlertJob = z.infer<typeof OperatorAlertJob>;

export const HighJob = z.union([HandoffNotificationJob, OperatorAlertJob]);
export type HighJob = z.infer<typeof HighJob>;

export const highQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'high',
  schema: HighJob,
  jobName: 'notify-team',
  jobId: (data) =>
    'notificationId' in data ? `notify-${data.notificationId}` : `alert-${data.messageId}-${data.channel}`,
  defaultJobOptions: {
    attempts: 8,
    backoff: { type: 'exponential', delay: 2000 },
    priority: 1,
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
