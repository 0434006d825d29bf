import { z } from 'zod';
import { defineQueue } from './define-queue';

/** One event the webhook recorded in the inbox: an inbound message or a delivery status. */
export const InboxEventRef = z.object({
  inboxEventId: z.uuid(),
  kind: z.enum(['message', 'status']),
});
export type InboxEventRef = z.infer<typeof InboxEventRef>;

/** Events one job carries at most; the webhook splits a larger batch over several jobs. */
export const MAX_EVENTS_PER_INBOX_JOB = 50;

/**
 * `inbox`: one job per batch of inbox events the webhook recorded together (one event at low
 * load, tens under a burst). A job add costs the webhook about as much as everything else it
 * does for a delivery, so under load one add now covers a whole batch. The job carries only the
 * row ids; the worker reads the rest from PostgreSQL. A single event (`{ inboxEventId, kind }`),
 * as versions before batching queued it and as some jobs may still be queued during a deploy,
 * reads as a batch of one.
 */
export const InboxJob = z.union([
  z.object({ events: z.array(InboxEventRef).min(1).max(MAX_EVENTS_PER_INBOX_JOB) }),
  InboxEventRef.transform((event) => ({ events: [event] })),
]);
export type InboxJob = z.infer<typeof InboxJob>;

export const inboxQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'inbox',
  schema: InboxJob,
  jobName: 'inbox-event',
  // Named for its first event: a batch of one (the sweeper's re-queue) keeps the id it always had.
  jobId: (data) => `inbox-${data.events[0]!.inboxEventId}`,
  defaultJobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
