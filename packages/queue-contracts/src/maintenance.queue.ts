import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `maintenance`: periodic jobs that the scheduler enqueues (with BullMQ job schedulers) and the
 * worker runs. Each run is idempotent, so several scheduler copies do no harm.
 */
export const MaintenanceJob = z.object({
  task: z.enum(['sweep-inbox']),
});
export type MaintenanceJob = z.infer<typeof MaintenanceJob>;

export const maintenanceQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'maintenance',
  schema: MaintenanceJob,
  jobName: 'maintenance',
  jobId: (data) => `maintenance-${data.task}-${Date.now()}`,
  defaultJobOptions: {
    attempts: 1,
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
});

/** Scheduler ids, one per periodic task. */
export const SCHEDULES = {
  sweepInbox: 'sweep-inbox',
} as const;
