import { execFileSync } from 'node:child_process';
import { notification, startPipeline } from './pipeline.bench';
import { ReplyClock } from './reply-clock';
import type { BenchResult } from './result';
import { BenchStack } from './stack';

/** Resident memory of a process, in MB (Linux `ps`). */
function rssMb(pid: number): number {
  return (
    Number(
      execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
        .toString()
        .trim(),
    ) / 1024
  );
}

/**
 * A worker process's memory over a soak: `rate` messages/s from a pool of `contacts` returning
 * contacts (conversations that go on, as in production) for `seconds`, RSS sampled every few
 * seconds. The baseline is the same worker's RSS after its warm-up; `ratio` is peak over that.
 * Targets: peak <= 200 MB, and the last tenth of the soak < 10 % above the first tenth.
 */
export async function memoryBench({
  redisUrl,
  databaseUrl,
  seconds = 600,
  rate = 10,
  contacts = 200,
}: {
  redisUrl: string;
  databaseUrl: string;
  seconds?: number;
  rate?: number;
  contacts?: number;
}): Promise<BenchResult> {
  const stack = await new BenchStack(databaseUrl, redisUrl).prepare();
  const clock = await new ReplyClock().start();
  try {
    const {
      port,
      workers: [worker],
    } = await startPipeline(stack, clock, 1);
    const pool = Array.from({ length: contacts }, (_, i) => `5598${String(i).padStart(9, '0')}`);
    let sent = 0;
    let failed = 0;
    const deliver = async () => {
      const n = notification(pool[sent++ % pool.length]);
      const status = await stack.postWebhook(port, n).catch(() => 0);
      if (status !== 200) failed++;
    };
    // Warm up: every contact's conversation exists, the JIT has run.
    for (const _ of pool) await deliver();
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = rssMb(worker!.pid!);

    const samples: number[] = [];
    const sampleEveryMs = Math.max(1000, Math.min(5000, (seconds * 1000) / 20));
    const start = performance.now();
    let nextSample = start;
    for (let i = 0; performance.now() - start < seconds * 1000; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      void deliver();
      if (performance.now() >= nextSample) {
        samples.push(rssMb(worker!.pid!));
        nextSample += sampleEveryMs;
      }
    }
    samples.push(rssMb(worker!.pid!));
    const tenth = Math.max(1, Math.floor(samples.length / 10));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const growth = mean(samples.slice(-tenth)) / mean(samples.slice(0, tenth)) - 1;
    const peak = Math.max(...samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return {
      name: 'memory',
      at: new Date().toISOString(),
      unit: 'MB, worker RSS at its peak during the soak',
      value: Number(peak.toFixed(1)),
      baseline: { name: 'the same worker after warm-up', value: Number(baseline.toFixed(1)) },
      ratio: Number((peak / baseline).toFixed(3)),
      p50_ms: 0,
      p99_ms: 0,
      notes:
        `${seconds} s at ${rate} messages/s from ${contacts} returning contacts (${sent} sent, ${failed} not accepted), ` +
        `${samples.length} samples, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} MB; ` +
        `growth last tenth over first tenth ${(growth * 100).toFixed(1)} %; targets: peak <= 200 MB, growth < 10 %` +
        ' (p50_ms and p99_ms do not apply)',
    };
  } finally {
    await clock.stop();
    await stack.close();
  }
}
