import type { Queue } from 'bullmq';
import { maintenanceQueue, SCHEDULES, type MaintenanceJob } from '@zapflow/queue-contracts';

/**
 * Registers the periodic jobs. `upsertJobScheduler` is idempotent by scheduler id, so every
 * scheduler copy can call it at boot: there is still one schedule, and one job per tick.
 */
export async function registerSchedules(queue: Queue, { sweepEveryMs }: { sweepEveryMs: number }) {
  const data: MaintenanceJob = maintenanceQueue.schema.parse({ task: 'sweep-inbox' });
  await queue.upsertJobScheduler(
    SCHEDULES.sweepInbox,
    { every: sweepEveryMs },
    { name: maintenanceQueue.jobName, data, opts: maintenanceQueue.defaultJobOptions },
  );
  return [{ id: SCHEDULES.sweepInbox, everyMs: sweepEveryMs }];
}
