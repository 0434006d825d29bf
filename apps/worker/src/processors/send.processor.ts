import { DelayedError, type Job } from 'bullmq';
import { parseJobData, sendQueue } from '@zapflow/queue-contracts';
import { SendError } from '@zapflow/whatsapp';
import { sendOutbound, type SendDeps } from '../send.service';

export function sendProcessor(deps: SendDeps) {
  return async (job: Job, token?: string) => {
    const { messageId } = parseJobData(sendQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    const result = await sendOutbound({ ...deps, logger }, messageId, {
      isLastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    });
    if (result && 'waitMs' in result) {
      // Not a failure: an earlier message must go first, a rate limit says wait, the message is
      // not due yet, or the fallback chain sends it next another way.
      await job.moveToDelayed(Date.now() + result.waitMs, token);
      throw new DelayedError();
    }
    return result;
  };
}

/**
 * The wait before retry n (1-based) of a send: the configured schedule (the seeds' 1, 2, 4
 * minutes by default), or 4^(n-1) seconds after Meta's pair-rate error 131056, as Meta advises;
 * each with up to ±20 % jitter so that a burst of failures does not retry in lockstep against a
 * provider that is just recovering.
 */
export function sendRetryDelay(
  delaysMs: number[],
  attemptsMade: number,
  error?: Error,
  random: () => number = Math.random,
): number {
  const base =
    error instanceof SendError && error.code === '131056'
      ? 1000 * 4 ** Math.max(0, attemptsMade - 1)
      : (delaysMs[Math.min(attemptsMade, delaysMs.length) - 1] ?? delaysMs.at(-1) ?? 60_000);
  return Math.round(base * (0.8 + 0.4 * random()));
}
