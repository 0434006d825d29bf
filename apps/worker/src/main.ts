import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import { createDb, pingDb } from '@zapflow/db';
import { Idempotency } from '@zapflow/idempotency';
import { createLogger, errorFields } from '@zapflow/logger';
import {
  createQueue,
  createRedis,
  inboxQueue,
  maintenanceQueue,
  Producer,
  SEND_BACKOFF,
  sendQueue,
} from '@zapflow/queue-contracts';
import { exitOnStartupError, onShutdown, startOpsServer } from '@zapflow/runtime';
import { loadWorkerConfig } from './config';
import { LocalEngine } from './conversation/local-engine';
import { createWorkerMetrics } from './metrics';
import { inboxProcessor } from './processors/inbox.processor';
import { maintenanceProcessor } from './processors/maintenance.processor';
import { sendProcessor, sendRetryDelay } from './processors/send.processor';
import { createSender } from './sender.factory';

async function main() {
  const config = loadWorkerConfig();
  const logger = createLogger({
    service: 'worker',
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    nodeEnv: config.NODE_ENV,
  });
  const db = createDb({ url: config.DATABASE_URL, poolSize: Math.min(20, config.WORKER_CONCURRENCY) });
  const connection = createRedis(config.REDIS_URL, 'worker');
  connection.on('error', (error) => logger.warn('redis connection error', { error: error.message }));

  const inboxQ = createQueue(inboxQueue, connection, config.QUEUE_PREFIX);
  const sendQ = createQueue(sendQueue, connection, config.QUEUE_PREFIX);
  const inbox = new Producer(inboxQueue, inboxQ);
  // The retry schedule is configuration, so every send job gets as many attempts as it allows.
  const send = new Producer(sendQueue, sendQ, { attempts: config.SEND_RETRY_DELAYS_MS.length + 1 });

  const idempotency = new Idempotency(connection, {
    prefix: config.QUEUE_PREFIX,
    doneTtlS: config.IDEMPOTENCY_TTL_S,
    inProgressTtlMs: config.WORKER_LOCK_MS,
  });
  const sender = createSender(config, connection);
  const engine = new LocalEngine();
  const metrics = createWorkerMetrics();

  const common: WorkerOptions = {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_LOCK_MS,
    // A job whose worker died is not at fault: let it be picked up again a few times.
    maxStalledCount: 5,
    autorun: false,
  };
  const workers = [
    new Worker(inboxQueue.name, inboxProcessor({ db, idempotency, engine, send, logger }) as Processor, common),
    new Worker(sendQueue.name, sendProcessor({ db, sender, logger }) as Processor, {
      ...common,
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === SEND_BACKOFF ? sendRetryDelay(config.SEND_RETRY_DELAYS_MS, attemptsMade) : 1000,
      },
    }),
    new Worker(
      maintenanceQueue.name,
      maintenanceProcessor(
        { db, inbox, send, logger },
        { inboxSweepAfterMs: config.INBOX_SWEEP_AFTER_MS },
      ) as Processor,
      { ...common, concurrency: 1 },
    ),
  ];
  for (const worker of workers) {
    metrics.observe(worker);
    worker.on('error', (error) => logger.error('worker error', { queue: worker.name, ...errorFields(error) }));
    worker.on('failed', (job, error) => {
      logger.warn('job failed', {
        queue: worker.name,
        jobId: job?.id,
        attempt: job?.attemptsMade,
        ...errorFields(error),
      });
    });
    void worker.run();
  }

  const ops = await startOpsServer({
    port: config.WORKER_METRICS_PORT,
    registry: metrics.registry,
    health: async () => {
      const [redisOk, dbOk] = await Promise.all([
        connection.ping().then(
          () => true,
          () => false,
        ),
        pingDb(db).then(
          () => true,
          () => false,
        ),
      ]);
      const running = workers.every((w) => w.isRunning());
      return { ok: redisOk && dbOk && running, detail: { redis: redisOk, postgres: dbOk, workersRunning: running } };
    },
  });
  logger.info('worker running', {
    queues: workers.map((w) => w.name),
    concurrency: config.WORKER_CONCURRENCY,
    provider: sender.provider,
    engine: engine.name,
    opsPort: ops.port,
  });

  onShutdown(logger, async () => {
    // Stop taking jobs and let the active ones finish; the shutdown timeout bounds the wait.
    await Promise.all(workers.map((w) => w.close()));
    await Promise.allSettled([inboxQ.close(), sendQ.close(), ops.close(), sender.close?.()]);
    connection.disconnect();
    await db.$disconnect();
  });
}

main().catch(exitOnStartupError(undefined, 'worker'));
