import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Idempotency } from '@zapflow/idempotency';
import { deletePrefixedKeys, quantile, type BenchResult } from './result';

/**
 * An idempotency claim against the cheapest thing it could be: one raw Redis `SET NX` round trip.
 * Both run on the same connection, alternating in small rounds so that machine noise hits both
 * alike. Target: a claim costs at most 1.5 × the raw round trip.
 */
export async function idempotencyBench({
  redisUrl,
  rounds = 40,
  perRound = 250,
}: {
  redisUrl: string;
  rounds?: number;
  perRound?: number;
}): Promise<BenchResult> {
  const redis = new Redis(redisUrl);
  const prefix = `zfbench-${randomUUID().slice(0, 8)}`;
  const idem = new Idempotency(redis, { prefix, doneTtlS: 60, inProgressTtlMs: 60_000 });
  const claim: number[] = [];
  const raw: number[] = [];
  try {
    const time = async (samples: number[], op: () => Promise<unknown>) => {
      for (let i = 0; i < perRound; i++) {
        const started = process.hrtime.bigint();
        await op();
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    };
    for (let round = 0; round < rounds; round++) {
      await time(claim, () => idem.claim(randomUUID()));
      await time(raw, () => redis.set(`${prefix}:raw:${randomUUID()}`, '1', 'PX', 60_000, 'NX'));
    }
  } finally {
    await deletePrefixedKeys(redis, prefix);
    redis.disconnect();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const value = mean(claim) * 1000;
  const baseline = mean(raw) * 1000;
  return {
    name: 'idempotency',
    at: new Date().toISOString(),
    unit: 'µs per claim (mean, sequential round trips)',
    value: Math.round(value),
    baseline: { name: 'raw Redis SET NX PX', value: Math.round(baseline) },
    ratio: Number((value / baseline).toFixed(3)),
    p50_ms: Number(quantile(claim, 0.5).toFixed(3)),
    p99_ms: Number(quantile(claim, 0.99).toFixed(3)),
    notes: `${claim.length} claims and ${raw.length} SET NX, alternating in ${rounds} rounds on one connection; target ratio <= 1.5`,
  };
}
