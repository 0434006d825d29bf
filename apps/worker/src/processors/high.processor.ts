import type { Job } from 'bullmq';
import { highQueue, parseJobData } from '@zapflow/queue-contracts';
import { deliverHandoffNotification, type NotifyDeps } from '../handoff/notify.service';

export function highProcessor(deps: NotifyDeps) {
  return async (job: Job) => {
    const { notificationId } = parseJobData(highQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    return deliverHandoffNotification({ ...deps, logger }, notificationId, {
      isLastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    });
  };
}
