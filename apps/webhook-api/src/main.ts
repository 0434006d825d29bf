import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createDb } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import { ALL_QUEUES, createQueue, createRedis, inboxQueue, Producer, sendQueue } from '@zapflow/queue-contracts';
import { closerFor, exitOnStartupError, onShutdown } from '@zapflow/runtime';
import { createApp } from './app';
import { InboxWriter } from './inbox-writer';
import { parseApiKeys } from './routes/api.route';
import { loadWebhookApiConfig } from './config';
import { createMetrics } from './metrics';

async function main() {
  const config = loadWebhookApiConfig();
  const logger = createLogger({
    service: 'webhook-api',
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    nodeEnv: config.NODE_ENV,
  });
  if (!config.appSecret) {
    logger.warn('WHATSAPP_APP_SECRET is not set: every POST /webhook/whatsapp will be refused with 401');
  }
  const adminPassword = config.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
  if (!config.ADMIN_PASSWORD) {
    // Development only (production refuses to start without one): printed so the operator can log in.
    logger.info(`Bull Board login for this run: ${config.ADMIN_USER} / ${adminPassword}`);
  }

  const db = createDb({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE });
  const redis = createRedis(config.REDIS_URL, 'producer');
  redis.on('error', (error) => logger.warn('redis connection error', { error: error.message }));
  const queues = ALL_QUEUES.map((contract) => createQueue(contract, redis, config.QUEUE_PREFIX));
  for (const queue of queues)
    queue.on('error', (error) => logger.warn('queue error', { queue: queue.name, error: error.message }));
  const inbox = new Producer(
    inboxQueue,
    queues.find((q) => q.name === inboxQueue.name)!,
  );
  const metrics = createMetrics();
  const writer = new InboxWriter({ db, inbox, metrics, logger });

  const app = createApp({
    db,
    redis,
    logger,
    metrics,
    queues,
    inbox,
    writer,
    phoneNumberIds: config.WHATSAPP_PHONE_NUMBER_IDS,
    webhook: {
      appSecret: config.appSecret,
      verifyToken: config.WHATSAPP_VERIFY_TOKEN,
      bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES,
    },
    evolution: { apiKey: config.EVOLUTION_API_KEY, bodyLimitBytes: config.WEBHOOK_BODY_LIMIT_BYTES },
    admin: { user: config.ADMIN_USER, password: adminPassword },
    apiKeys: parseApiKeys(config.API_KEYS),
    send: new Producer(
      sendQueue,
      queues.find((q) => q.name === sendQueue.name)!,
      {
        attempts: config.SEND_RETRY_DELAYS_MS.length + 1,
      },
    ),
    sending: {
      provider: config.WHATSAPP_PROVIDER,
      defaultFrom:
        config.WHATSAPP_PROVIDER === 'evolution'
          ? config.EVOLUTION_INSTANCE
          : config.WHATSAPP_PHONE_NUMBER_IDS.length === 1
            ? config.WHATSAPP_PHONE_NUMBER_IDS[0]
            : undefined,
      maxTextChars: config.TEXT_MAX_CHARS,
    },
  });
  const server = app.listen(config.PORT);
  const closeServer = closerFor(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Meta's requests come over keep-alive connections; outlive a typical load balancer's idle timeout.
  server.keepAliveTimeout = 65_000;
  logger.info('webhook-api listening', {
    port: (server.address() as AddressInfo).port,
    provider: config.WHATSAPP_PROVIDER,
  });

  onShutdown(
    logger,
    async () => {
      await closeServer();
      await writer.drain();
      await Promise.allSettled(queues.map((q) => q.close()));
      redis.disconnect();
      await db.$disconnect();
    },
    // Inside the compose file's 15 s stop_grace_period: exit on our own, not by SIGKILL.
    12_000,
  );
}

main().catch(exitOnStartupError(undefined, 'webhook-api'));
