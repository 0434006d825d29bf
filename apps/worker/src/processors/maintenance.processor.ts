import type { Job } from 'bullmq';
import { maintenanceQueue, parseJobData } from '@zapflow/queue-contracts';
import { releaseIdleHandoffs } from '../handoff/release.service';
import { sweep, type SweepDeps } from '../sweep.service';

export function maintenanceProcessor(deps: SweepDeps, options: { inboxSweepAfterMs: number }) {
  return async (job: Job) => {
    const data = parseJobData(maintenanceQueue, job.data);
    switch (data.task) {
      case 'sweep-inbox':
        return sweep(deps, { afterMs: options.inboxSweepAfterMs });
      case 'release-idle-handoffs':
        return releaseIdleHandoffs(deps, data.idleMs);
    }
  };
}
