import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from '@zapflow/testkit';
import { FencedLock } from './fenced-lock';

const prefix = uniquePrefix('lock');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await deleteKeys(prefix);
  redis.disconnect();
});

describe('fenced lock (real Redis)', () => {
  it('has one holder at a time and hands out growing tokens', async () => {
    const locks = new FencedLock(redis, prefix, 5000);
    const first = await locks.acquire('conv-a');
    expect(first).not.toBeNull();
    expect(await locks.acquire('conv-a')).toBeNull();
    await first!.release();
    const second = await locks.acquire('conv-a');
    expect(second!.fence).toBeGreaterThan(first!.fence);
    await second!.release();
  });

  it('lets exactly one of 30 concurrent takers win', async () => {
    const clients = Array.from({ length: 6 }, () => new Redis(TEST_REDIS_URL));
    try {
      const held = await Promise.all(
        Array.from({ length: 30 }, (_, i) => new FencedLock(clients[i % 6]!, prefix, 5000).acquire('conv-race')),
      );
      const winners = held.filter((h) => h !== null);
      expect(winners).toHaveLength(1);
      await winners[0]!.release();
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('keeps the lock while the holder works past the TTL, and frees it when the holder dies', async () => {
    const locks = new FencedLock(redis, prefix, 300);
    const held = await locks.acquire('conv-renew');
    await new Promise((r) => setTimeout(r, 700));
    expect(held!.held).toBe(true);
    expect(await locks.acquire('conv-renew')).toBeNull();
    await held!.release();
    // A holder that never renews (a crashed process): gone after the TTL.
    await redis.set(`${prefix}:lock:{conv-dead}`, '1', 'PX', 200);
    expect(await locks.acquire('conv-dead')).toBeNull();
    await new Promise((r) => setTimeout(r, 250));
    expect(await locks.acquire('conv-dead')).not.toBeNull();
  });

  it('never hands out a token at or below the floor the store has seen (a lost Redis counter)', async () => {
    const locks = new FencedLock(redis, prefix, 5000);
    await redis.del(`${prefix}:fence:{conv-lost}`);
    const held = await locks.acquire('conv-lost', 300);
    expect(held!.fence).toBe(301);
    await held!.release();
    expect((await locks.acquire('conv-lost', 300))!.fence).toBe(302);
  });

  it('does not let a former holder release the current one', async () => {
    const locks = new FencedLock(redis, prefix, 200);
    const old = await locks.acquire('conv-steal');
    // The old holder stalls (its renewals stop) and the lock expires; someone else takes it.
    await redis.pexpire(`${prefix}:lock:{conv-steal}`, 1);
    await new Promise((r) => setTimeout(r, 20));
    const current = await locks.acquire('conv-steal');
    expect(current).not.toBeNull();
    await old!.release();
    expect(await locks.acquire('conv-steal')).toBeNull();
    await current!.release();
  });
});
