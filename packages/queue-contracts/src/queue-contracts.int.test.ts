import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from '@zapflow/testkit';
import { createQueue, parseJobData, Producer } from './define-queue';
import { InboxJob, inboxJobEvents, inboxJobFor, inboxQueue, MAX_EVENTS_PER_INBOX_JOB } from './inbox.queue';
import { sendQueue } from './send.queue';
import { createRedis } from './redis';

const prefix = uniquePrefix('contracts');
let redis: Redis;
let queue: Queue;
let inbox: Producer<typeof inboxQueue.schema>;

beforeAll(() => {
  redis = createRedis(TEST_REDIS_URL, 'producer');
  queue = createQueue(inboxQueue, redis, prefix);
  inbox = new Producer(inboxQueue, queue);
});
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await deleteKeys(prefix);
});

describe('queue contracts (real Redis)', () => {
  it('adds a job under the configured prefix with an id derived from the payload', async () => {
    const inboxEventId = randomUUID();
    const job = await inbox.add({ inboxEventId, kind: 'message' });
    expect(job.id).toBe(`inbox-${inboxEventId}`);
    expect(await redis.exists(`${prefix}:inbox:inbox-${inboxEventId}`)).toBe(1);
    expect(job.opts.attempts).toBe(inboxQueue.defaultJobOptions.attempts);
  });

  it('adds the same work twice as one job', async () => {
    const data = { inboxEventId: randomUUID(), kind: 'status' as const };
    await inbox.addBulk([data, data]);
    await inbox.add(data);
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.filter((j) => j.id === `inbox-${data.inboxEventId}`)).toHaveLength(1);
  });

  it('refuses a payload that does not fit the schema before it reaches Redis', async () => {
    const before = await queue.count();
    await expect(inbox.add({ inboxEventId: 'not-a-uuid', kind: 'message' })).rejects.toThrow();
    await expect(inbox.add({ inboxEventId: randomUUID(), kind: 'email' } as never)).rejects.toThrow();
    expect(await queue.count()).toBe(before);
  });

  it('makes job ids BullMQ accepts: no colon, never all digits', () => {
    for (const id of [
      inboxQueue.jobId!({ events: [{ inboxEventId: randomUUID(), kind: 'message' }] }),
      sendQueue.jobId!({ messageId: randomUUID() }),
    ]) {
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  it('fails garbage on the consumer side without retrying it', () => {
    expect(() => parseJobData(inboxQueue, { inboxEventId: 42 })).toThrow(UnrecoverableError);
    expect(() => parseJobData(inboxQueue, { events: [] })).toThrow(UnrecoverableError);
    const tooMany = Array.from({ length: MAX_EVENTS_PER_INBOX_JOB + 1 }, () => ({
      inboxEventId: randomUUID(),
      kind: 'message',
    }));
    expect(() => parseJobData(inboxQueue, { events: tooMany })).toThrow(UnrecoverableError);
  });

  it('names a batch job for its first event and queues it once', async () => {
    const events = [randomUUID(), randomUUID()].map((inboxEventId) => ({ inboxEventId, kind: 'message' as const }));
    const [job] = await inbox.addBulk([{ events }, { events }]);
    expect(job!.id).toBe(`inbox-${events[0]!.inboxEventId}`);
    expect((await queue.getJob(job!.id!))!.data).toEqual({ events });
    expect((await queue.getJobs(['waiting'])).filter((j) => j.id === job!.id)).toHaveLength(1);
  });

  it('still reads job data written by an earlier version (extra fields are dropped)', () => {
    const yesterday = {
      inboxEventId: '6f1c7c1e-8f0a-4a8e-9c59-2f0f5d3f0a11',
      kind: 'message',
      receivedAt: 1732400000000,
    };
    const parsed = parseJobData(inboxQueue, yesterday);
    expect(parsed).toEqual({ inboxEventId: yesterday.inboxEventId, kind: 'message' });
    expect(inboxJobEvents(parsed)).toEqual([parsed]);
    expect(InboxJob.safeParse({ inboxEventId: yesterday.inboxEventId, kind: 'message' }).success).toBe(true);
  });

  it('writes a single event in the shape earlier versions read, several as a batch', () => {
    const [one, two] = [randomUUID(), randomUUID()].map((inboxEventId) => ({ inboxEventId, kind: 'status' as const }));
    expect(inboxJobFor([one!])).toEqual(one);
    expect(inboxJobFor([one!, two!])).toEqual({ events: [one, two] });
    expect(inboxJobEvents(inboxJobFor([one!, two!]))).toEqual([one, two]);
  });
});
