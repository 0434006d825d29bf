import { loadConfig, schedulerEnv } from '@zapflow/config';

export type SchedulerConfig = ReturnType<typeof loadSchedulerConfig>;

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(schedulerEnv, env);
  return {
    ...config,
    // Four looks per grace period: a stuck message waits at most 1.25 × INBOX_SWEEP_AFTER_MS.
    sweepEveryMs: config.INBOX_SWEEP_EVERY_MS ?? Math.max(1000, Math.round(config.INBOX_SWEEP_AFTER_MS / 4)),
  };
}
