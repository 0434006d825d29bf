import { idempotencyBench } from './bench/idempotency.bench';
import { ingestBench } from './bench/ingest.bench';
import { memoryBench } from './bench/memory.bench';
import { pipelineBench } from './bench/pipeline.bench';
import { writeResult, type BenchResult } from './bench/result';

// `npm run bench`: every benchmark, each against a baseline measured side by side in this run
// (these 2-core machines are noisy, so only ratios compare across runs). Prints a table and
// writes bench/results/<name>.json. See bench/README.md.

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zapflow';

/** A positive whole number from the environment, or `fallback` when it is unset. */
function countFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`bench: ${name} must be a whole number above 0, not "${raw}"`);
    process.exit(2);
  }
  return value;
}

const pipelineWorkers = countFromEnv('BENCH_PIPELINE_WORKERS', 1);
// The soak is 10 minutes; BENCH_MEMORY_SECONDS shortens it for a quick look.
const memorySeconds = countFromEnv('BENCH_MEMORY_SECONDS', 600);

async function main() {
  const results: BenchResult[] = [];
  const benchmarks = [
    ['idempotency', () => idempotencyBench({ redisUrl })],
    ['ingest', () => ingestBench({ redisUrl, databaseUrl })],
    // One worker process by default: on 2 cores a second adds contention, not capacity (bench/README.md).
    ['pipeline', () => pipelineBench({ redisUrl, databaseUrl, workers: pipelineWorkers })],
    ['memory', () => memoryBench({ redisUrl, databaseUrl, seconds: memorySeconds })],
  ] as const;
  // `npm run bench -- ingest pipeline` runs only those.
  const only = process.argv.slice(2);
  for (const [name, run] of benchmarks) {
    if (only.length && !only.includes(name)) continue;
    process.stdout.write(`bench: ${name}...\n`);
    const result = await run();
    writeResult(result);
    results.push(result);
  }
  console.table(
    results.map((r) => ({
      name: r.name,
      value: `${r.value} ${r.unit}`,
      baseline: `${r.baseline.value} (${r.baseline.name})`,
      ratio: r.ratio,
      p50_ms: r.p50_ms,
      p99_ms: r.p99_ms,
    })),
  );
  console.log('Written to bench/results/. bench/README.md says how to read them.');
}

main().catch((error: Error) => {
  console.error(
    `bench failed: ${error.message}. Are Redis (REDIS_URL) and PostgreSQL (DATABASE_URL) running, and is the build current (npm run build)?`,
  );
  process.exit(1);
});
