import { describe, expect, it } from '@jest/globals';
import { TEST_REDIS_URL } from '@zapflow/testkit';
import { memoryBench } from './memory.bench';
import { pipelineBench } from './pipeline.bench';

// Speed is not judged here (that is `npm run bench`'s job): this keeps the pipeline and memory
// benchmarks runnable (they start the built webhook-api and workers) and in the contract's shape.
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const KEYS = ['at', 'baseline', 'name', 'notes', 'p50_ms', 'p99_ms', 'ratio', 'unit', 'value'].sort();

describe('pipeline and memory benchmarks', () => {
  it('answers every paced message through the whole path and reports in the contract format', async () => {
    const result = await pipelineBench({
      redisUrl: TEST_REDIS_URL,
      databaseUrl,
      seconds: 1,
      settleSeconds: 1,
      warmUpSeconds: 1,
      rate: 20,
      workers: 1,
    });
    expect(Object.keys(result).sort()).toEqual(KEYS);
    expect(result.value).toBeGreaterThan(0);
    expect(result.baseline.value).toBeGreaterThan(0);
    expect(result.notes).toMatch(/\(20\/20 answered\), measured after 1 s at that rate, reported apart/);
    // The settling second of each load is reported with its own count: 20 at 20/s, 2 at 2/s.
    expect(result.notes).toMatch(/from 2\/s\): p50 \d+\.\d ms, p99 \d+\.\d ms \(20\/20 answered\)/);
    expect(result.notes).toMatch(
      /at 2\/s, measured the same way: .*\(2\/2 answered\), its first 1 s .*\(2\/2 answered\)/,
    );
    expect(result.notes).toMatch(/CPU per reply in the flood: .*worker \d+\.\d+ ms/);
    expect(result.notes).toMatch(
      /a Redis round trip .*: back to back p50 \d+ µs and \d+ µs of CPU, paced at 20\/s p50 \d+ µs and \d+ µs of CPU;/,
    );
    expect(result.notes).toMatch(/warmed up on an unmeasured 1 s flood \([1-9]\d* messages\)/);
  }, 120_000);

  it('samples a worker through a short soak', async () => {
    const result = await memoryBench({ redisUrl: TEST_REDIS_URL, databaseUrl, seconds: 3, rate: 5, contacts: 5 });
    expect(Object.keys(result).sort()).toEqual(KEYS);
    expect(result.value).toBeGreaterThan(30);
    expect(result.notes).toMatch(/0 not accepted/);
  }, 120_000);
});
