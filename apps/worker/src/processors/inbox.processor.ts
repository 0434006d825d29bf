import type { Job } from 'bullmq';
import { inboxJobEvents, inboxJobFor, inboxQueue, parseJobData } from '@zapflow/queue-contracts';
import { handleInboxBatch, type InboxBatchDeps } from '../inbox-batch.service';

export function inboxProcessor(deps: InboxBatchDeps) {
  return async (job: Job) => {
    const events = inboxJobEvents(parseJobData(inboxQueue, job.data));
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    return handleInboxBatch({ ...deps, logger }, events, (remaining) => job.updateData(inboxJobFor(remaining)));
  };
}
