import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import { createDb, pingDb } from '@zapflow/db';
import { FencedLock, Idempotency, RateLimiter } from '@zapflow/idempotency';
import { errorFields, type Logger } from '@zapflow/logger';
import {
  createQueue,
  createRedis,
  highQueue,
  inboxQueue,
  maintenanceQueue,
  Producer,
  SEND_BACKOFF,
  sendQueue,
  turnQueue,
} from '@zapflow/queue-contracts';
import type { WorkerConfig } from './config';
import { createEngine } from './conversation/engine.factory';
import { createNotificationChannels } from './handoff/channels.factory';
import { createWorkerMetrics } from './metrics';
import { highProcessor } from './processors/high.processor';
import { inboxProcessor } from './processors/inbox.processor';
import { maintenanceProcessor } from './processors/maintenance.processor';
import { sendProcessor, sendRetryDelay } from './processors/send.processor';
import { turnProcessor } from './processors/turn.processor';
import { FallbackChain } from './fallback-chain';
import { createAlternateRoute, createSender } from './sender.factory';
import { SendLimits } from './send-limits';
import { SentMarkers } from './sent-markers';
import { TurnScheduler } from './turn-scheduler';

export interface WorkerApp {
  workers: Worker[];
  engine: string;
  provider: string;
  metrics: ReturnType<typeof createWorkerMetrics>;
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  /** Stops taking jobs, waits for the active ones, and closes every connection. */
  close(): Promise<void>;
}

/**
 * The worker process's parts, wired from configuration: its queues, the turn scheduler, the
 * engine, the sender, the handoff channels and one BullMQ worker per queue. `main.ts` runs it;
 * integration tests run the same wiring in-process.
 */
export async function createWorkerApp(config: WorkerConfig, logger: Logger): Promise<WorkerApp> {
  const db = createDb({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE });
  const connection = createRedis(config.REDIS_URL, 'worker');
  connection.on('error', (error) => logger.warn('redis connection error', { error: error.message }));

  const inboxQ = createQueue(inboxQueue, connection, config.QUEUE_PREFIX);
  const turnQ = createQueue(turnQueue, connection, config.QUEUE_PREFIX);
  const sendQ = createQueue(sendQueue, connection, config.QUEUE_PREFIX);
  const highQ = createQueue(highQueue, connection, config.QUEUE_PREFIX);
  const inbox = new Producer(inboxQueue, inboxQ);
  const notify = new Producer(highQueue, highQ);
  const turns = new TurnScheduler(db, new Producer(turnQueue, turnQ), {
    debounceMs: config.DEBOUNCE_MS,
    maxWaitMs: config.debounceMaxWaitMs,
  });
  // The retry schedule is configuration, so every send job gets as many attempts as it allows.
  const send = new Producer(sendQueue, sendQ, { attempts: config.SEND_RETRY_DELAYS_MS.length + 1 });

  const idempotency = new Idempotency(connection, {
    prefix: config.QUEUE_PREFIX,
    doneTtlS: config.IDEMPOTENCY_TTL_S,
    inProgressTtlMs: config.WORKER_LOCK_MS,
  });
  const locks = new FencedLock(connection, config.QUEUE_PREFIX, config.WORKER_LOCK_MS);
  const limits = new SendLimits(new RateLimiter(connection, config.QUEUE_PREFIX), config);
  const sender = createSender(config, connection);
  const alternate = createAlternateRoute(config, connection, db);
  const engine = await createEngine(config, db);
  const channels = createNotificationChannels(config, sender);
  const metrics = createWorkerMetrics();
  const fallback = new FallbackChain({
    db,
    send,
    alerts: notify,
    alertChannels: channels.map((c) => c.name),
    hasAlternate: alternate !== undefined,
    lastRetryDelayMs: config.SEND_RETRY_DELAYS_MS.at(-1) ?? 60_000,
    logger,
  });

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
    new Worker(inboxQueue.name, inboxProcessor({ db, turns, send, fallback, logger }) as Processor, common),
    new Worker(
      turnQueue.name,
      turnProcessor({
        db,
        locks,
        idempotency,
        engine,
        send,
        notify,
        turns,
        logger,
        debounce: turns.options,
        handoffAfterFailedTurns: config.HANDOFF_AFTER_FAILED_TURNS,
        handoffChannels: config.handoffChannels,
        replies: {
          maxTextChars: config.TEXT_MAX_CHARS,
          delayMs: config.REPLY_DELAY_MS,
          template: config.REPLY_TEMPLATE_NAME
            ? { name: config.REPLY_TEMPLATE_NAME, language: config.REPLY_TEMPLATE_LANGUAGE }
            : undefined,
        },
        markRead: config.MARK_READ ? (receipt) => sender.markRead(receipt) : undefined,
      }) as Processor,
      common,
    ),
    new Worker(
      sendQueue.name,
      sendProcessor({
        db,
        sender,
        alternate: alternate?.route,
        limits,
        fallback,
        logger,
        sendLeaseMs: config.WHATSAPP_TIMEOUT_MS + 5000,
        sent: new SentMarkers(connection, config.QUEUE_PREFIX),
        wake: async (messageIds) => {
          for (const id of messageIds) {
            const job = await sendQ.getJob(sendQueue.jobId!({ messageId: id }));
            if (job && (await job.isDelayed())) await job.promote().catch(() => undefined); // it just ran
          }
        },
        windowMs: config.CUSTOMER_SERVICE_WINDOW_MS,
      }) as Processor,
      {
        ...common,
        settings: {
          backoffStrategy: (attemptsMade, type, error) =>
            type === SEND_BACKOFF ? sendRetryDelay(config.SEND_RETRY_DELAYS_MS, attemptsMade, error) : 1000,
        },
      },
    ),
    new Worker(highQueue.name, highProcessor({ db, channels, logger }) as Processor, { ...common, concurrency: 10 }),
    new Worker(
      maintenanceQueue.name,
      maintenanceProcessor(
        { db, inbox, send, notify, turns, logger },
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

  const health = async () => {
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
  };
  return {
    workers,
    engine: engine.name,
    provider: sender.provider,
    metrics,
    health,
    close: async () => {
      // Stop taking jobs and let the active ones finish; the caller bounds the wait.
      await Promise.all(workers.map((w) => w.close()));
      await Promise.allSettled([
        ...[inboxQ, turnQ, sendQ, highQ].map((q) => q.close()),
        sender.close?.(),
        alternate?.sender.close?.(),
        ...channels.map((c) => c.close?.()),
      ]);
      connection.disconnect();
      await db.$disconnect();
    },
  };
}
