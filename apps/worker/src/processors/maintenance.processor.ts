import type { Job } from 'bullmq';
import { maintenanceQueue, parseJobData } from '@zapflow/queue-contracts';
import { sweep, type SweepDeps } from '../sweep.service';

export function maintenanceProcessor(deps: SweepDeps, options: { inboxSweepAfterMs: number }) {
  return async (job: Job) => {
    const { task } = parseJobData(maintenanceQueue, job.data);
    switch (task) {
      case 'sweep-inbox':
        return sweep(deps, { afterMs: options.inboxSweepAfterMs });
    }
  };
}
