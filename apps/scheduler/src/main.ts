import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '@zapflow/logger';
import { createQueue, createRedis, maintenanceQueue } from '@zapflow/queue-contracts';
import { exitOnStartupError, onShutdown, startOpsServer } from '@zapflow/runtime';
import { loadSchedulerConfig } from './config';
import { registerSchedules } from './schedules';

// The scheduler only enqueues; the worker runs what it schedules. Several copies are harmless.
async function main() {
  const config = loadSchedulerConfig();
  const logger = createLogger({
    service: 'scheduler',
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    nodeEnv: config.NODE_ENV,
  });
  const connection = createRedis(config.REDIS_URL, 'worker');
  connection.on('error', (error) => logger.warn('redis connection error', { error: error.message }));
  const queue = createQueue(maintenanceQueue, connection, config.QUEUE_PREFIX);
  queue.on('error', (error) => logger.warn('queue error', { error: error.message }));

  const options = { sweepEveryMs: config.sweepEveryMs, idleReleaseMs: config.HANDOFF_IDLE_RELEASE_MS };
  const schedules = await registerSchedules(queue, options);
  // Job schedulers live in Redis: if Redis loses its keys (a flush, a failover without
  // persistence) the sweeper, the durability backstop, must come back without a restart.
  // upsertJobScheduler is idempotent, so re-registering is harmless.
  const reregister = () =>
    registerSchedules(queue, options).catch((error: Error) =>
      logger.warn('could not re-register the job schedulers; will try again', { error: error.message }),
    );
  const timer = setInterval(() => void reregister(), Math.min(60_000, config.sweepEveryMs * 4));
  timer.unref();
  connection.on('ready', () => void reregister());
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zapflow_scheduler_' });
  const ops = await startOpsServer({
    port: config.SCHEDULER_METRICS_PORT,
    registry,
    health: async () => {
      const ok = await connection.ping().then(
        () => true,
        () => false,
      );
      return { ok, detail: { redis: ok } };
    },
  });
  logger.info('scheduler running', { schedules, opsPort: ops.port });

  onShutdown(
    logger,
    async () => {
      clearInterval(timer);
      await Promise.allSettled([queue.close(), ops.close()]);
      connection.disconnect();
    },
    // Inside the compose file's 15 s stop_grace_period: exit on our own, not by SIGKILL.
    12_000,
  );
}

main().catch(exitOnStartupError(undefined, 'scheduler'));
