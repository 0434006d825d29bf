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
 * `inbox`: one job per batch of inbox events the webhook recorded together. A job add costs the
 * webhook about as much as everything else it does for a delivery, so under load one add covers
 * a whole batch. A single event keeps the shape jobs had before batching (`{ inboxEventId, kind }`:
 * what the sweeper queues, and what a worker of an earlier version still reads during a rolling
 * deploy); several go as `{ events }`. The job carries only row ids; the worker reads the rest
 * from PostgreSQL.
 */
export const InboxJob = z.union([
  InboxEventRef,
  z.object({ events: z.array(InboxEventRef).min(1).max(MAX_EVENTS_PER_INBOX_JOB) }),
]);
export type InboxJob = z.infer<typeof InboxJob>;

/** The events a job carries, whichever its shape. */
export function inboxJobEvents(job: InboxJob): InboxEventRef[] {
  return 'events' in job ? job.events : [job];
}

/** The job for some recorded events: a single event in its own shape, several as a batch. */
export function inboxJobFor(events: InboxEventRef[]): InboxJob {
  return events.length === 1 ? events[0]! : { events };
}

export const inboxQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'inbox',
  schema: InboxJob,
  jobName: 'inbox-event',
  // Named for its (first) event: a single event's job keeps the id it had before batching.
  jobId: (data) => `inbox-${inboxJobEvents(data)[0]!.inboxEventId}`,
  defaultJobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 5000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  },
});
