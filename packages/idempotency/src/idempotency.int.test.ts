import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from '@zapflow/testkit';
import { Idempotency } from './idempotency';

const prefix = uniquePrefix('idem');
let redis: Redis;
let idem: Idempotency;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
  idem = new Idempotency(redis, { prefix, doneTtlS: 60, inProgressTtlMs: 2000 });
});
afterAll(async () => {
  await deleteKeys(prefix);
  redis.disconnect();
});

describe('idempotency (real Redis)', () => {
  it('lets exactly one of 100 concurrent claims of one id win', async () => {
    const clients = Array.from({ length: 10 }, () => new Redis(TEST_REDIS_URL));
    try {
      const claims = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          new Idempotency(clients[i % clients.length]!, { prefix, doneTtlS: 60, inProgressTtlMs: 2000 }).claim('race'),
        ),
      );
      expect(claims.filter((c) => c.state === 'claimed')).toHaveLength(1);
      expect(claims.filter((c) => c.state === 'in_progress')).toHaveLength(99);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('tells a later caller the work is done and hands back the cached result', async () => {
    const claim = await idem.claim('job-1');
    if (claim.state !== 'claimed') throw new Error('expected to claim');
    expect(await idem.complete('job-1', claim.token, { replyId: 'r1' })).toBe(true);
    expect(await idem.claim('job-1')).toEqual({ state: 'done', result: { replyId: 'r1' } });
  });

  it('keeps "done" for IDEMPOTENCY_TTL_S and "in progress" only briefly', async () => {
    const claim = await idem.claim('ttl');
    if (claim.state !== 'claimed') throw new Error('expected to claim');
    const inProgressTtl = await redis.pttl(idem.key('ttl'));
    expect(inProgressTtl).toBeGreaterThan(0);
    expect(inProgressTtl).toBeLessThanOrEqual(2000);
    await idem.complete('ttl', claim.token);
    const doneTtl = await redis.ttl(idem.key('ttl'));
    expect(doneTtl).toBeGreaterThan(50);
    expect(doneTtl).toBeLessThanOrEqual(60);
  });

  it('frees an abandoned claim when its in-progress TTL runs out', async () => {
    const short = new Idempotency(redis, { prefix, doneTtlS: 60, inProgressTtlMs: 100 });
    expect((await short.claim('crashed')).state).toBe('claimed');
    expect((await short.claim('crashed')).state).toBe('in_progress');
    await new Promise((r) => setTimeout(r, 150));
    expect((await short.claim('crashed')).state).toBe('claimed');
  });

  it('lets a retry claim at once after the owner releases on failure', async () => {
    const failed = await idem.claim('fails');
    if (failed.state !== 'claimed') throw new Error('expected to claim');
    await idem.release('fails', failed.token);
    const retry = await idem.claim('fails');
    expect(retry.state).toBe('claimed');
    if (retry.state !== 'claimed') return;
    await idem.complete('fails', retry.token, 42);
    expect(await idem.claim('fails')).toEqual({ state: 'done', result: 42 });
  });

  it('does not let a stale owner overwrite a claim that passed to someone else', async () => {
    const short = new Idempotency(redis, { prefix, doneTtlS: 60, inProgressTtlMs: 50 });
    const first = await short.claim('handover');
    await new Promise((r) => setTimeout(r, 80));
    const second = await short.claim('handover');
    if (first.state !== 'claimed' || second.state !== 'claimed') throw new Error('expected two claims');
    expect(await short.complete('handover', first.token, 'stale')).toBe(false);
    await short.release('handover', first.token);
    expect((await short.claim('handover')).state).toBe('in_progress');
    expect(await short.complete('handover', second.token, 'fresh')).toBe(true);
    expect(await short.claim('handover')).toEqual({ state: 'done', result: 'fresh' });
  });

  it('keeps every key under the configured prefix', async () => {
    await idem.claim('prefixed');
    expect(await redis.exists(`${prefix}:idem:prefixed`)).toBe(1);
  });
});
