import { z } from 'zod';
import { defineQueue } from './define-queue';

/**
 * `maintenance`: periodic jobs that the scheduler enqueues (with BullMQ job schedulers) and the
 * worker runs. Each run is idempotent, so several scheduler copies do no harm.
 */
export const MaintenanceJob = z.discriminatedUnion('task', [
  z.object({ task: z.literal('sweep-inbox') }),
  /** `idleMs` comes from the scheduler's HANDOFF_IDLE_RELEASE_MS. */
  z.object({ task: z.literal('release-idle-handoffs'), idleMs: z.number().int().positive() }),
]);
export type MaintenanceJob = z.infer<typeof MaintenanceJob>;

export const maintenanceQueue = defineQueue({
  // Never rename: the name is part of Redis keys in production.
  name: 'maintenance',
  schema: MaintenanceJob,
  jobName: 'maintenance',
  defaultJobOptions: {
    attempts: 1,
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  },
});

/** Scheduler ids, one per periodic task. */
export const SCHEDULES = {
  sweepInbox: 'sweep-inbox',
  releaseIdleHandoffs: 'release-idle-handoffs',
} as const;
