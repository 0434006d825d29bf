import type { Queue } from 'bullmq';
import {
  claimStaleInboxEvents,
  countSweeps,
  findPendingNotifications,
  findStaleOutbound,
  stalePendingConversations,
  type Db,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { highQueue, inboxQueue, sendQueue, type Producer } from '@zapflow/queue-contracts';
import type { TurnScheduler } from './turn-scheduler';

export interface SweepDeps {
  db: Db;
  inbox: Producer<typeof inboxQueue.schema>;
  send: Producer<typeof sendQueue.schema>;
  notify: Producer<typeof highQueue.schema>;
  turns: TurnScheduler;
  logger: Logger;
}

export interface SweepOptions {
  /** Grace period: only rows older than this are considered stuck (`INBOX_SWEEP_AFTER_MS`). */
  afterMs: number;
  batch?: number;
  /** After this many sweeps an inbox event is left alone (a poison event must not loop forever). */
  maxSweeps?: number;
}

/**
 * The durability backstop. PostgreSQL is the commit point, so anything recorded but not finished
 * (an inbox event whose job was never queued because Redis was down, lost in a Redis flush, or
 * failed for good; an outbound message left `queued`) is queued again here. Job ids come from the
 * rows, so a sweep that races the normal path queues nothing twice, with one exception: an inbox
 * event that is not the first of its webhook batch has no job of its own id, so if its batch job
 * is still waiting or retrying when the grace period ends, the event is queued once more and
 * handled twice. Handling is idempotent (a stored message is not stored again, a status only moves
 * forward, a turn request folds into the one on its way), so that costs work, never an answer.
 */
export async function sweep(deps: SweepDeps, { afterMs, batch = 500, maxSweeps = 5 }: SweepOptions) {
  const staleInbox = await claimStaleInboxEvents(deps.db, { olderThanMs: afterMs, limit: batch, maxSweeps });
  const requeued: string[] = [];
  for (const event of staleInbox) {
    const data = { inboxEventId: event.id, kind: event.kind };
    if (await requeue(deps.inbox.queue, inboxQueue.jobId!(data))) {
      await deps.inbox.add(data);
      requeued.push(event.id);
    }
  }
  await countSweeps(deps.db, requeued);
  const inboxRequeued = requeued.length;
  const staleOutbound = await findStaleOutbound(deps.db, { olderThanMs: afterMs, limit: batch });
  let outboundRequeued = 0;
  for (const message of staleOutbound) {
    const data = { messageId: message.id };
    const jobId = sendQueue.jobId!(data);
    // A message left `sending` whose job ended may have reached the provider: only a job lost
    // with Redis is re-queued for it (the documented at-most-one-extra-send case).
    const lost = message.status === 'sending' ? !(await deps.send.queue.getJob(jobId)) : true;
    if (lost && (await requeue(deps.send.queue, jobId))) {
      await deps.send.add(data);
      outboundRequeued++;
    }
  }
  // Messages stored but never answered: their turn request was lost (Redis flushed). Asking
  // again is harmless when a turn is already on its way (deduplication folds the two).
  const waiting = await stalePendingConversations(deps.db, { olderThanMs: afterMs, limit: batch });
  for (const { conversationId } of waiting) await deps.turns.requestAgain(conversationId);
  let notificationsRequeued = 0;
  for (const { id } of await findPendingNotifications(deps.db, { olderThanMs: afterMs, limit: batch })) {
    const data = { notificationId: id };
    if (await requeue(deps.notify.queue, highQueue.jobId!(data))) {
      await deps.notify.add(data);
      notificationsRequeued++;
    }
  }
  if (inboxRequeued || outboundRequeued || waiting.length || notificationsRequeued) {
    deps.logger.warn('sweeper queued stuck work again', {
      inboxRequeued,
      outboundRequeued,
      turnsRequested: waiting.length,
      notificationsRequeued,
    });
  }
  return {
    inboxRequeued,
    outboundRequeued,
    turnsRequested: waiting.length,
    notificationsRequeued,
    inboxExamined: staleInbox.length,
    outboundExamined: staleOutbound.length,
  };
}

/**
 * Whether the job must be added again: it is missing (never queued, or lost with Redis), left
 * behind by a flush, or it ended without finishing the row's work (failed, or completed yet the
 * row is still open). A job that is waiting, delayed or running is left alone.
 */
async function requeue(queue: Queue, jobId: string): Promise<boolean> {
  const job = await queue.getJob(jobId);
  if (!job) return true;
  const state = await job.getState();
  // 'unknown': the job's hash outlived its place in the queue (a worker wrote to it after a
  // Redis flush). Adding under the same id would be a no-op and the work would wait forever.
  if (state === 'failed' || state === 'completed' || state === 'unknown') {
    await job.remove();
    return true;
  }
  return false;
}
