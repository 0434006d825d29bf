import { DelayedError, type Job } from 'bullmq';
import { parseJobData, sendQueue } from '@zapflow/queue-contracts';
import { sendOutbound, type SendDeps } from '../send.service';

const WAIT_FOR_EARLIER_MS = 200;

export function sendProcessor(deps: SendDeps) {
  return async (job: Job, token?: string) => {
    const { messageId } = parseJobData(sendQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    const result = await sendOutbound({ ...deps, logger }, messageId, {
      isLastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    });
    if (result && 'waitForEarlier' in result) {
      // Not a failure: look again once the earlier message has had time to go out.
      await job.moveToDelayed(Date.now() + WAIT_FOR_EARLIER_MS, token);
      throw new DelayedError();
    }
    return result;
  };
}

/**
 * The wait before retry n (1-based) of a send: the configured schedule (the seeds' 1, 2, 4
 * minutes by default), each with up to ±20 % jitter so that a burst of failures does not retry in
 * lockstep against a provider that is just recovering.
 */
export function sendRetryDelay(delaysMs: number[], attemptsMade: number, random = Math.random): number {
  const base = delaysMs[Math.min(attemptsMade, delaysMs.length) - 1] ?? delaysMs.at(-1) ?? 60_000;
  return Math.round(base * (0.8 + 0.4 * random()));
}
