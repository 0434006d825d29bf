import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDb, type Db, type NewInboxEvent } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import {
  createQueue,
  createRedis,
  inboxJobEvents,
  inboxQueue,
  Producer,
  type InboxJob,
} from '@zapflow/queue-contracts';
import { createTestDatabase, deleteKeys, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from '@zapflow/testkit';
import { InboxWriter } from './inbox-writer';
import { createMetrics } from './metrics';
import { queuedInboxEvents } from './test-server';

const prefix = uniquePrefix('inbox-writer');
let database: TestDatabase;
let db: Db;
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = createRedis(TEST_REDIS_URL, 'producer');
  queue = createQueue(inboxQueue, redis, prefix);
});
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await db.$disconnect();
  await database.drop();
  await deleteKeys(prefix);
});

const delivery = (n: number): NewInboxEvent[] => [
  { provider: 'cloud', kind: 'message', channelKey: '1000', dedupeKey: `wamid.drain-${n}`, payload: { n } },
];

describe('InboxWriter', () => {
  it('writes the deliveries that wait together, and drains: resolves once all are written and queued', async () => {
    const writer = new InboxWriter(
      {
        db,
        inbox: new Producer(inboxQueue, queue),
        metrics: createMetrics(),
        logger: createLogger({ service: 'inbox-writer-test', silent: true }),
      },
      { maxInFlight: 1, maxBatchEvents: 500 },
    );
    // One batch in flight, two waiting behind it: what a stop can find when clients hang up.
    const answers = Promise.all([1, 2, 3].map((n) => writer.record(delivery(n))));
    await writer.drain();
    expect((await queuedInboxEvents(queue)).length).toBe(3);
    // The first alone, the two that waited behind it together: one INSERT and one job for both.
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((j) => inboxJobEvents(j.data as InboxJob).length).sort()).toEqual([1, 2]);
    expect((await answers).map((recorded) => recorded.length)).toEqual([1, 1, 1]);
    await writer.drain(); // nothing in flight: resolves at once
  });
});
