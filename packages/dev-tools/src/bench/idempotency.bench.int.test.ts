import { describe, expect, it } from '@jest/globals';
import { TEST_REDIS_URL } from '@zapflow/testkit';
import { idempotencyBench } from './idempotency.bench';

// Speed is not judged here (that is `npm run bench`'s job): this only keeps the benchmark
// runnable and its output in the contract's shape.
describe('idempotency benchmark', () => {
  it('measures a claim against raw SET NX and reports in the contract format', async () => {
    const result = await idempotencyBench({ redisUrl: TEST_REDIS_URL, rounds: 2, perRound: 20 });
    expect(Object.keys(result).sort()).toEqual(
      ['at', 'baseline', 'name', 'notes', 'p50_ms', 'p99_ms', 'ratio', 'unit', 'value'].sort(),
    );
    expect(result).toMatchObject({ name: 'idempotency', baseline: { name: 'raw Redis SET NX PX' } });
    expect(result.ratio).toBeCloseTo(result.value / result.baseline.value, 0);
    expect(result.p99_ms).toBeGreaterThanOrEqual(result.p50_ms);
    expect(result.notes).toMatch(/40 claims and 40 SET NX/);
  });
});
