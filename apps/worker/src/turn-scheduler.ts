import { oldestPendingAt, type Db } from '@zapflow/db';
import type { Producer, turnQueue } from '@zapflow/queue-contracts';

export interface DebounceOptions {
  /** Messages within this long of each other are one burst (`DEBOUNCE_MS`). */
  debounceMs: number;
  /** Nobody waits longer than this since their first unanswered message (`DEBOUNCE_MAX_WAIT_MS`). */
  maxWaitMs: number;
}

/** How long to wait before a turn: a full debounce window, cut short by the maximum wait. */
export function debounceDelay(now: number, oldestPending: number, { debounceMs, maxWaitMs }: DebounceOptions): number {
  return Math.max(0, Math.min(debounceMs, oldestPending + maxWaitMs - now));
}

const dedupIdOf = (conversationId: string) => `turn-${conversationId}`;

/**
 * Asks for a turn of a conversation. Why this design (open-source BullMQ has no groups):
 * one delayed `turn` job per conversation, added with BullMQ's deduplication keyed by the
 * conversation.
 * - `replace`: while the turn is still waiting (delayed), a new message replaces it with a fresh
 *   delay, so the window restarts (debounce), but never past the maximum wait.
 * - `keepLastIfActive`: while a turn is running, a new request is kept and becomes the next job
 *   when the running one finishes, so at most one turn per conversation runs and a message that
 *   arrives mid-turn is answered by the next one.
 * The turn itself still takes a per-conversation lock with a fencing token (turn.service.ts):
 * stalled-job redelivery and the sweeper can start a second job, and PostgreSQL, not Redis, has
 * the last word on which turn commits.
 */
export class TurnScheduler {
  constructor(
    private readonly db: Db,
    private readonly turns: Producer<typeof turnQueue.schema>,
    readonly options: DebounceOptions,
  ) {}

  /**
   * Asks for a turn where an earlier request may have been lost (the sweeper's case). After Redis
   * lost keys, a conversation's deduplication key can outlive its job, or name a job id that the
   * restarted id counter gave to another conversation's job: BullMQ then folds every new request
   * into a job that has already run, and the conversation would wait forever. Such a key (its job
   * gone, finished, orphaned or someone else's) is removed first; a live turn of this
   * conversation (waiting, delayed or running) is left alone and folds the request as usual.
   */
  async requestAgain(conversationId: string): Promise<void> {
    const deduplicationId = dedupIdOf(conversationId);
    const queue = this.turns.queue;
    const holder = await queue.getDeduplicationJobId(deduplicationId);
    if (holder) {
      const job = await queue.getJob(holder);
      const live =
        job?.data?.conversationId === conversationId &&
        !['completed', 'failed', 'unknown'].includes(await job.getState());
      if (!live) await queue.removeDeduplicationKey(deduplicationId);
    }
    await this.request(conversationId);
  }

  async request(conversationId: string, oldestPending?: Date): Promise<void> {
    await this.requestMany([{ conversationId, oldestPending }]);
  }

  /** `request` for many conversations in one round trip (an inbox batch's). */
  async requestMany(requests: { conversationId: string; oldestPending?: Date | undefined }[]): Promise<void> {
    const now = Date.now();
    const jobs = [];
    for (const { conversationId, oldestPending } of requests) {
      const oldest = (oldestPending ?? (await oldestPendingAt(this.db, conversationId)))?.getTime() ?? now;
      jobs.push({
        data: { conversationId },
        options: {
          delay: debounceDelay(now, oldest, this.options),
          deduplication: { id: dedupIdOf(conversationId), keepLastIfActive: true, replace: true },
        },
      });
    }
    await this.turns.addEach(jobs);
  }
}
