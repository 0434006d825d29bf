import { DelayedError, type Job } from 'bullmq';
import { parseJobData, turnQueue } from '@zapflow/queue-contracts';
import type { TurnScheduler } from '../turn-scheduler';
import { runTurn, type TurnDeps } from '../turn.service';

/** How soon a turn that found its conversation locked looks again. */
const BUSY_RETRY_MS = 250;

export function turnProcessor(deps: TurnDeps & { turns: TurnScheduler }) {
  return async (job: Job, token?: string) => {
    const { conversationId } = parseJobData(turnQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, conversationId, attempt: job.attemptsMade + 1 });
    const outcome = await runTurn({ ...deps, logger }, conversationId);
    if (outcome.kind === 'busy' || outcome.kind === 'wait') {
      logger.debug('turn postponed', outcome);
      // Not a failure: the job waits without spending an attempt.
      await job.moveToDelayed(outcome.kind === 'busy' ? Date.now() + BUSY_RETRY_MS : outcome.until, token);
      throw new DelayedError();
    }
    if (outcome.kind === 'superseded') {
      // Another turn committed first or took some inputs; anything left pending gets a new turn.
      await deps.turns.request(conversationId);
    }
    return outcome;
  };
}
