import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `send`: one job per outbound message row (the outbox). The row is written first; the job id is
 * derived from it, so queueing it twice (the turn and the sweeper both trying) sends once.
 */
export const SendJob = z.object({
  messageId: z.uuid(),
});
export type SendJob = z.infer<typeof SendJob>;

/** The backoff type the worker registers: the `SEND_RETRY_DELAYS_MS` schedule with jitter. */
export const SEND_BACKOFF = 'send-schedule';

/**
 * Send jobs carry a priority (BullMQ: lower goes first), so that a long broadcast never holds up a
 * contact waiting for the bot's answer, and a message's one last retry of the fallback chain
 * goes before both.
 */
export const SEND_PRIORITY = { lastRetry: 1, reply: 2, bulk: 5 } as const;

export const sendQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'send',
  schema: SendJob,
  jobName: 'send-message',
  jobId: (data) => `send-${data.messageId}`,
  defaultJobOptions: {
    // Attempts are bounded by the worker's retry schedule; this is the ceiling.
    attempts: 4,
    priority: SEND_PRIORITY.reply,
    backoff: { type: SEND_BACKOFF },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
