import type { Queue } from 'bullmq';
import { maintenanceQueue, SCHEDULES, type MaintenanceJob } from '@zapflow/queue-contracts';

/**
 * Registers the periodic jobs. `upsertJobScheduler` is idempotent by scheduler id, so every
 * scheduler copy can call it at boot: there is still one schedule, and one job per tick.
 */
export async function registerSchedules(
  queue: Queue,
  { sweepEveryMs, idleReleaseMs }: { sweepEveryMs: number; idleReleaseMs: number },
) {
  const schedules: { id: string; everyMs: number; data: MaintenanceJob }[] = [
    { id: SCHEDULES.sweepInbox, everyMs: sweepEveryMs, data: { task: 'sweep-inbox' } },
    {
      id: SCHEDULES.releaseIdleHandoffs,
      // Looking ten times per idle period keeps the release within 10 % of the configured time.
      everyMs: Math.max(1000, Math.min(60_000, Math.round(idleReleaseMs / 10))),
      data: { task: 'release-idle-handoffs', idleMs: idleReleaseMs },
    },
  ];
  for (const { id, everyMs, data } of schedules) {
    await queue.upsertJobScheduler(
      id,
      { every: everyMs },
      {
        name: maintenanceQueue.jobName,
        data: maintenanceQueue.schema.parse(data),
        opts: maintenanceQueue.defaultJobOptions,
      },
    );
  }
  return schedules.map(({ id, everyMs }) => ({ id, everyMs }));
}
