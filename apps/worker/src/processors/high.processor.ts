import type { Job } from 'bullmq';
import { highQueue, parseJobData } from '@zapflow/queue-contracts';
import { deliverHandoffNotification, deliverOperatorAlert, type NotifyDeps } from '../handoff/notify.service';

export function highProcessor(deps: NotifyDeps) {
  return async (job: Job) => {
    const data = parseJobData(highQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    if ('alert' in data) return deliverOperatorAlert({ ...deps, logger }, data);
    return deliverHandoffNotification({ ...deps, logger }, data.notificationId, {
      isLastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    });
  };
}
