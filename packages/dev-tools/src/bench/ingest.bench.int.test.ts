import { describe, expect, it } from '@jest/globals';
import { TEST_REDIS_URL } from '@zapflow/testkit';
import { ingestBench } from './ingest.bench';

// Speed is not judged here (that is `npm run bench`'s job): this keeps the benchmark runnable
// (it starts the built webhook-api) and its output in the contract's shape.
describe('ingest benchmark', () => {
  it('loads webhook-api and bare Express side by side and reports in the contract format', async () => {
    const result = await ingestBench({
      redisUrl: TEST_REDIS_URL,
      databaseUrl: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
      seconds: 1,
      warmUpSeconds: 1,
      connections: 5,
    });
    expect(Object.keys(result).sort()).toEqual(
      ['at', 'baseline', 'name', 'notes', 'p50_ms', 'p99_ms', 'ratio', 'unit', 'value'].sort(),
    );
    expect(result).toMatchObject({ name: 'ingest', baseline: { name: 'bare Express, JSON body, 200' } });
    expect(result.value).toBeGreaterThan(0);
    expect(result.baseline.value).toBeGreaterThan(0);
    expect(result.notes).toMatch(/webhook-api non-2xx or errors: 0;/);
    expect(result.notes).toMatch(/CPU per request, webhook-api runs: .*webhook-api \d+ µs/);
  }, 60_000);
});
