import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `turn`: "this conversation has messages to answer". One delayed job per conversation, added
 * with BullMQ deduplication in debounce mode (see apps/worker/src/turn-scheduler.ts), so a burst
 * of messages becomes one turn.
 */
export const TurnJob = z.object({
  conversationId: z.uuid(),
});
export type TurnJob = z.infer<typeof TurnJob>;

export const turnQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'turn',
  schema: TurnJob,
  jobName: 'conversation-turn',
  // No job id of ours: the deduplication id (the conversation) keeps one turn per conversation.
  defaultJobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
