import type { Redis } from 'ioredis';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One benchmark's outcome, in the format CONTRACT.md fixes for bench/results/<name>.json. */
export interface BenchResult {
  name: string;
  at: string;
  unit: string;
  value: number;
  baseline: { name: string; value: number };
  /** value / baseline, both measured in this run on this machine. */
  ratio: number;
  p50_ms: number;
  p99_ms: number;
  notes: string;
}

export const RESULTS_DIR = path.join(__dirname, '..', '..', '..', '..', 'bench', 'results');

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

/** The q-quantile (0..1) of samples, in the samples' unit. */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Removes every Redis key a benchmark wrote under its own prefix. */
export async function deletePrefixedKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}
