import type { Job } from 'bullmq';
import { inboxQueue, parseJobData } from '@zapflow/queue-contracts';
import { handleInboundMessage, type InboundDeps } from '../inbound.service';
import { handleStatus, type StatusDeps } from '../status.service';

export function inboxProcessor(deps: InboundDeps & Pick<StatusDeps, 'send' | 'fallback'>) {
  return async (job: Job) => {
    const { inboxEventId, kind } = parseJobData(inboxQueue, job.data);
    const logger = deps.logger.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
    return kind === 'message'
      ? handleInboundMessage({ ...deps, logger }, inboxEventId)
      : handleStatus({ db: deps.db, send: deps.send, fallback: deps.fallback, logger }, inboxEventId);
  };
}
