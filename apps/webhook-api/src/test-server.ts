import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDb, type Db } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import {
  ALL_QUEUES,
  createQueue,
  createRedis,
  inboxJobEvents,
  inboxQueue,
  parseJobData,
  Producer,
  sendQueue,
  type InboxEventRef,
} from '@zapflow/queue-contracts';
import { createTestDatabase, deleteKeys, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from '@zapflow/testkit';
import { createApp, type AppDeps } from './app';
import { createMetrics } from './metrics';

/** webhook-api in-process for a test file: its own database and queue prefix, on a free port. */
export interface TestServer {
  db: Db;
  queues: Queue[];
  queue(name: string): Queue;
  base: string;
  close(): Promise<void>;
}

export async function startTestServer(
  name: string,
  overrides: Partial<Pick<AppDeps, 'webhook' | 'evolution' | 'apiKeys' | 'sending' | 'phoneNumberIds'>> = {},
): Promise<TestServer> {
  const prefix = uniquePrefix(name);
  const database: TestDatabase = await createTestDatabase();
  const db = createDb({ url: database.url });
  const redis: Redis = createRedis(TEST_REDIS_URL, 'producer');
  const queues = ALL_QUEUES.map((c) => createQueue(c, redis, prefix));
  const queue = (queueName: string) => queues.find((q) => q.name === queueName)!;
  const app = createApp({
    db,
    redis,
    logger: createLogger({ service: `${name}-test`, level: 'error', silent: true }),
    metrics: createMetrics(),
    queues,
    inbox: new Producer(inboxQueue, queue(inboxQueue.name)),
    phoneNumberIds: [],
    webhook: { appSecret: 'secret', verifyToken: 'verify-me', bodyLimitBytes: 64 * 1024 },
    evolution: { apiKey: undefined, bodyLimitBytes: 64 * 1024 },
    admin: { user: 'admin', password: 'pw' },
    apiKeys: [],
    send: new Producer(sendQueue, queue(sendQueue.name)),
    ...overrides,
  });
  const server: Server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  return {
    db,
    queues,
    queue,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise((r) => server.close(r));
      await Promise.all(queues.map((q) => q.close()));
      redis.disconnect();
      await db.$disconnect();
      await database.drop();
      await deleteKeys(prefix);
    },
  };
}

/** The inbox events waiting for a worker, over every job (the webhook queues a batch as one job). */
export async function queuedInboxEvents(inbox: Queue): Promise<InboxEventRef[]> {
  const jobs = await inbox.getJobs(['waiting']);
  return jobs.flatMap((job) => inboxJobEvents(parseJobData(inboxQueue, job.data)));
}
