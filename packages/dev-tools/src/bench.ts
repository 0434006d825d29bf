import { idempotencyBench } from './bench/idempotency.bench';
import { writeResult, type BenchResult } from './bench/result';

// `npm run bench`: every benchmark, each against a baseline measured side by side in this run
// (these 2-core machines are noisy, so only ratios compare across runs). Prints a table and
// writes bench/results/<name>.json. See bench/README.md.

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function main() {
  const results: BenchResult[] = [];
  for (const [name, run] of [['idempotency', () => idempotencyBench({ redisUrl })]] as const) {
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
  console.log('Written to bench/results/. The other benchmarks of the benchmarks issue are not built yet.');
}

main().catch((error: Error) => {
  console.error(`bench failed: ${error.message}. Is Redis running (REDIS_URL)?`);
  process.exit(1);
});
