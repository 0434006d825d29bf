import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from '@zapflow/testkit';
import { RateLimiter } from './rate-limiter';

const prefix = uniquePrefix('rate');
let redis: Redis;
let limiter: RateLimiter;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
  limiter = new RateLimiter(redis, prefix);
});
afterAll(async () => {
  await deleteKeys(prefix);
  redis.disconnect();
});

describe('rate limiter (GCRA in Redis)', () => {
  it('admits a burst, then one event per interval', async () => {
    const rate = { count: 1, perMs: 6000, burst: 3 };
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await limiter.take('recipient', 'burst', rate));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThan(5000);
    expect(waits[3]).toBeLessThanOrEqual(6000);
  });

  it('admits again once the wait it named has passed', async () => {
    const rate = { count: 10, perMs: 1000, burst: 1 };
    expect(await limiter.take('number', 'pace', rate)).toBe(0);
    const wait = await limiter.take('number', 'pace', rate);
    expect(wait).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, wait + 5));
    expect(await limiter.take('number', 'pace', rate)).toBe(0);
  });

  it('holds across concurrent callers on separate connections: exactly the burst gets through', async () => {
    const clients = Array.from({ length: 5 }, () => new Redis(TEST_REDIS_URL));
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          new RateLimiter(clients[i % 5]!, prefix).take('number', 'shared', { count: 1, perMs: 60_000, burst: 10 }),
        ),
      );
      expect(results.filter((w) => w === 0)).toHaveLength(10);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('keeps subjects apart', async () => {
    const rate = { count: 1, perMs: 60_000, burst: 1 };
    expect(await limiter.take('recipient', 'a', rate)).toBe(0);
    expect(await limiter.take('recipient', 'b', rate)).toBe(0);
    expect(await limiter.take('recipient', 'a', rate)).toBeGreaterThan(0);
  });

  it('admits under several limits at once, or counts it under none', async () => {
    const number = { scope: 'number', subject: 'both', rate: { count: 1, perMs: 60_000, burst: 2 } };
    const pair = { scope: 'pair', subject: 'both:c1', rate: { count: 1, perMs: 60_000, burst: 1 } };
    expect(await limiter.admit([number, pair])).toBe(0);
    // The pair refuses: the number must not have spent its second slot on it.
    expect(await limiter.admit([number, pair])).toBeGreaterThan(50_000);
    expect(await limiter.take('number', 'both', number.rate)).toBe(0);
    expect(await limiter.take('number', 'both', number.rate)).toBeGreaterThan(0);
  });

  it('waits out a pause, whatever the rates say, and counts nothing meanwhile', async () => {
    const rate = { count: 1, perMs: 60_000, burst: 1 };
    await limiter.pause('number', 'paused', 2000);
    const wait = await limiter.admit(
      [{ scope: 'pair', subject: 'paused:c1', rate }],
      [{ scope: 'number', subject: 'paused' }],
    );
    expect(wait).toBeGreaterThan(1000);
    expect(wait).toBeLessThanOrEqual(2000);
    expect(await limiter.take('pair', 'paused:c1', rate)).toBe(0);
  });

  it('never reads a wait under a millisecond as "admitted"', async () => {
    // 0.9 ms between events, burst 1: over a span of S ms at most 1 + floor((S + 1) / 0.9) may
    // pass (the script reads Redis's clock in whole milliseconds, so its clock may move a
    // millisecond more than the span). Truncated to an integer, every refusal's wait would read
    // as 0, and all five would "pass".
    const intervalMs = 0.9;
    const rate = { count: 10, perMs: 10 * intervalMs, burst: 1 };
    // Redis's own clock, read in line with the scripts on the one connection: the span it runs
    // them in, without the client's wait for the answers (which on a busy machine runs to
    // milliseconds, and once made every round look too slow to tell the bug apart).
    const redisMs = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Number(micros) / 1000;
    };
    let discriminating = 0;
    for (let round = 0; round < 5 && discriminating < 3; round++) {
      // Written together, Redis runs them in order: its clock, the five scripts, its clock.
      const [startedAt, ...rest] = await Promise.all([
        redisMs(),
        ...Array.from({ length: 5 }, () => limiter.take('number', `fine-${round}`, rate)),
        redisMs(),
      ]);
      const waits = rest.slice(0, 5);
      const mayPass = 1 + Math.floor((rest[5]! - startedAt! + 1) / intervalMs);
      expect(waits.filter((w) => w === 0).length).toBeLessThanOrEqual(mayPass);
      if (mayPass < 5) discriminating++;
    }
    // Redis would have to take 2.6 ms over five short scripts in every round to leave the bug
    // unseen.
    expect(discriminating).toBeGreaterThan(0);
  });
});
