import { UnrecoverableError } from 'bullmq';
import { errorFields } from '@zapflow/logger';
import type { Producer, sendQueue } from '@zapflow/queue-contracts';
import { SendError } from '@zapflow/whatsapp';
import { sendOutbound, type SendDeps } from './send.service';

export interface DispatchDeps {
  /** What a send needs; the same as the send jobs'. */
  send: SendDeps;
  /** The send queue: every reply that does not go out from the turn's job is sent from there. */
  queue: Producer<typeof sendQueue.schema>;
  /** A send's tries in all (`SEND_RETRY_DELAYS_MS` and one): the first here, the rest as a job. */
  attempts: number;
  /** The wait before retry `n` (1-based) after `error`: the send jobs' own schedule. */
  retryDelayMs: (retry: number, error: Error) => number;
}

/**
 * Gets a committed turn's replies on their way. The first is sent from the turn's own job, the
 * moment the turn lets go of its conversation; a send job would cost it a queue hop (an add, a
 * wake-up, a fetch and an empty one, a finish: five round trips to Redis, and the wait for a
 * worker to pick it up) for what is, most of the time, one request to the provider. Whatever
 * cannot go now goes through the send queue exactly as before: the rest of a multi-part reply
 * (after the first, so each goes once the one before it is out), a first reply that must wait (a
 * rate limit, an earlier reply still unsent) or be retried, and every reply of a delayed turn.
 *
 * A try here is the send's first: after a failure worth retrying, its job has the tries that are
 * left and takes the schedule up from the second wait. Nothing is lost to a crash mid-send: the
 * turn's job is still running, so it is redelivered and, finding nothing to answer, queues what
 * its last commit left unsent (`queueUnsent`); the sweeper is the backstop. Those sends meet the
 * message's lease and its sent note (`sent-markers.ts`), as any retry does, and never send it twice.
 */
export async function dispatchReplies(
  deps: DispatchDeps,
  messageIds: string[],
  { delayMs }: { delayMs: number },
): Promise<void> {
  const [first, ...rest] = messageIds;
  if (first === undefined) return;
  if (delayMs > 0) {
    await deps.queue.addBulk(
      messageIds.map((messageId) => ({ messageId })),
      { delay: delayMs },
    );
    return;
  }
  await sendFirst(deps, first, rest);
  await deps.queue.addBulk(rest.map((messageId) => ({ messageId })));
}

async function sendFirst(deps: DispatchDeps, messageId: string, rest: string[]): Promise<void> {
  const log = deps.send.logger.child({ messageId });
  const { wake } = deps.send;
  try {
    const outcome = await sendOutbound(
      {
        ...deps.send,
        logger: log,
        // The next parts have no job to wake yet: theirs are queued once this returns. A later
        // turn's reply, waiting for this one in a job of its own, is woken as after any send.
        wake: wake && ((ids) => wake(ids.filter((id) => !rest.includes(id)))),
      },
      messageId,
      { isLastAttempt: deps.attempts <= 1 },
    );
    if (outcome && 'waitMs' in outcome) await deps.queue.add({ messageId }, { delay: outcome.waitMs });
  } catch (error) {
    // Failed for good: the fallback chain has put it in the manual queue and alerted.
    if (error instanceof UnrecoverableError) return;
    if (error instanceof SendError && error.retryable) {
      // sendOutbound put the row back to `queued` with the error: the job takes the next tries.
      await deps.queue.add(
        { messageId, attemptsBefore: 1 },
        { delay: deps.retryDelayMs(1, error), attempts: Math.max(1, deps.attempts - 1) },
      );
      return;
    }
    // The database or Redis failed around the send: the job starts over (a send the provider
    // took is found by its note, never sent again).
    log.warn('could not send the reply from its turn; queued it', errorFields(error));
    await deps.queue.add({ messageId });
  }
}
