import { UnrecoverableError } from 'bullmq';
import { errorFields } from '@zapflow/logger';
import type { InboxEventRef } from '@zapflow/queue-contracts';
import { handleInboundBatch, handleInboundMessage, type InboundDeps, type InboundOutcome } from './inbound.service';
import { handleStatus, type StatusDeps } from './status.service';

export type InboxBatchDeps = InboundDeps & Pick<StatusDeps, 'send' | 'fallback'>;

/** An inbound message's outcome; a status has none. */
export type InboxEventOutcome = InboundOutcome | undefined;

/**
 * Events of one job handled at once. Every handler waits on the process's database pool, which
 * the turn and send jobs share: fifty jobs of fifty events each must not queue 2,500 statements
 * in front of them.
 */
const EVENTS_AT_ONCE = 8;

/**
 * Handles the inbox events of one job. One event alone behaves as it always has: its error is
 * the job's error and its outcome the job's result. Several (a webhook batch: different
 * deliveries, mostly different contacts): their messages are stored together, in one statement
 * (`storeTogether`); statuses, and the messages that statement leaves, are handled side by side,
 * `EVENTS_AT_ONCE` at a time. Both are safe because every handler already runs concurrently
 * across workers and may run again; two messages of one contact keep their order because a turn
 * waits for the contact's earlier messages that are recorded but not stored yet. When some fail,
 * `narrow` shrinks the job to the events that can still succeed and the job fails, so BullMQ
 * retries those alone with its backoff while the rest stay done. An event that can never succeed
 * (unreadable, gone) is left out of the retry: it stays unprocessed in the inbox, where the
 * sweeper queues it again on its own and it fails for good as a job of its own, visible to the
 * operator. If nothing can be retried, the job itself fails for good naming those events.
 */
export async function handleInboxBatch(
  deps: InboxBatchDeps,
  events: InboxEventRef[],
  narrow: (remaining: InboxEventRef[]) => Promise<unknown>,
): Promise<InboxEventOutcome | { handled: number }> {
  if (events.length === 1) return handleInboxEvent(deps, events[0]!);

  const failed: Failure[] = [];
  const messages = events.filter((e) => e.kind === 'message');
  const oneByOne = [
    ...events.filter((e) => e.kind !== 'message'),
    ...(messages.length > 1 ? await storeTogether(deps, messages, failed) : messages),
  ];

  let next = 0;
  const lane = async () => {
    for (let event = oneByOne[next++]; event; event = oneByOne[next++]) {
      await handleInboxEvent(deps, event).catch((error: unknown) => failed.push({ event, error }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(EVENTS_AT_ONCE, oneByOne.length) }, lane));
  // BullMQ keeps a completed job's return value: a count, not fifty outcomes.
  if (failed.length === 0) return { handled: events.length };

  for (const { event, error } of failed) {
    deps.logger.warn('inbox event failed within its batch', { ...event, ...errorFields(error) });
  }
  const retryable = failed.filter((f) => !(f.error instanceof UnrecoverableError));
  const kept = retryable.length ? retryable : failed;
  try {
    await narrow(kept.map((f) => f.event));
  } catch (error) {
    // Not narrowed: the retry handles the whole batch again, which is harmless (only slower).
    deps.logger.warn('could not narrow the inbox job to its failed events', errorFields(error));
  }
  const { event, error } = kept[0]!;
  const summary =
    `${kept.length} of ${events.length} inbox events failed ` +
    `(${event.inboxEventId}: ${error instanceof Error ? error.message : String(error)})`;
  if (retryable.length) throw new Error(`${summary}; only they are retried`);
  throw new UnrecoverableError(`${summary}; none can succeed, and the sweeper will queue each on its own`);
}

type Failure = { event: InboxEventRef; error: unknown };

/**
 * Stores a batch's messages in one statement with one round trip of turn requests
 * (`handleInboundBatch`). Returns the messages it left to be handled one at a time (all of them
 * if it failed: the one-at-a-time path stores each once and asks for its turn again), and adds
 * those that can never succeed to `failed`.
 */
async function storeTogether(
  deps: InboxBatchDeps,
  messages: InboxEventRef[],
  failed: Failure[],
): Promise<InboxEventRef[]> {
  try {
    const batch = await handleInboundBatch(
      deps,
      messages.map((e) => e.inboxEventId),
    );
    for (const event of messages) {
      const error = batch.failed.get(event.inboxEventId);
      if (error) failed.push({ event, error });
    }
    const left = new Set(batch.left);
    return messages.filter((e) => left.has(e.inboxEventId));
  } catch (error) {
    deps.logger.warn('inbound batch failed; handling its messages one at a time', errorFields(error));
    return messages;
  }
}

function handleInboxEvent(deps: InboxBatchDeps, { inboxEventId, kind }: InboxEventRef): Promise<InboxEventOutcome> {
  return kind === 'message'
    ? handleInboundMessage(deps, inboxEventId)
    : handleStatus(deps, inboxEventId).then(() => undefined);
}
