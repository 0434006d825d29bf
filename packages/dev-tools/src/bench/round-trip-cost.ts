import { Redis } from 'ioredis';
import { quantile } from './result';

/** One way of making Redis round trips: the p50 wait for an answer and the caller's CPU per trip. */
export interface RoundTripCost {
  p50Us: number;
  cpuUs: number;
}

/**
 * What a Redis round trip (a PING) costs this process, back to back and paced at `perSecond`.
 * On these VMs the two differ several times over, in CPU as well as in wait: a process that goes
 * idle between round trips pays again for waking up each time. A lone message crosses about forty
 * such round trips between processes, where the flood's processes seldom go idle. So each run
 * reports its machine's figure beside its paced latencies (bench/README.md, `pipeline`). Run
 * it while nothing else in this process is busy: `process.cpuUsage` counts the whole process.
 */
export async function roundTripCost(
  redisUrl: string,
  { perSecond, pacedCount }: { perSecond: number; pacedCount: number },
): Promise<{ backToBack: RoundTripCost; paced: RoundTripCost }> {
  if (!(pacedCount > 0)) throw new Error(`pacedCount must be above 0, got ${pacedCount}`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  // A Redis that cannot be reached fails the PINGs below, which say so; the connection's own
  // error events would only repeat it.
  redis.on('error', () => undefined);
  try {
    const measure = async (gapMs: number, count: number): Promise<RoundTripCost> => {
      const waits: number[] = [];
      const cpuBefore = process.cpuUsage();
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = start + i * gapMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const sent = performance.now();
        await redis.ping();
        waits.push(performance.now() - sent);
      }
      const cpu = process.cpuUsage(cpuBefore);
      return { p50Us: quantile(waits, 0.5) * 1000, cpuUs: (cpu.user + cpu.system) / count };
    };
    await measure(0, 2_000); // the connection and the code warmed up, unmeasured
    return { backToBack: await measure(0, 2_000), paced: await measure(1000 / perSecond, pacedCount) };
  } finally {
    redis.disconnect();
  }
}

/** "back to back p50 67 µs and 102 µs of CPU, paced at 200/s p50 322 µs and 459 µs of CPU" */
export function describeRoundTripCost(cost: { backToBack: RoundTripCost; paced: RoundTripCost }, perSecond: number) {
  const one = ({ p50Us, cpuUs }: RoundTripCost) => `p50 ${Math.round(p50Us)} µs and ${Math.round(cpuUs)} µs of CPU`;
  return `back to back ${one(cost.backToBack)}, paced at ${perSecond}/s ${one(cost.paced)}`;
}
