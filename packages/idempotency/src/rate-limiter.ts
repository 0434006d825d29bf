import type { Redis } from 'ioredis';

/** A rate: `count` events per `perMs`, with bursts of up to `burst` events at once. */
export interface Rate {
  count: number;
  perMs: number;
  burst: number;
}

// GCRA (generic cell rate algorithm): one key per subject holding its "theoretical arrival
// time". An event is allowed if it does not arrive earlier than TAT - burst tolerance; allowing
// it pushes TAT one emission interval further. One atomic script checks every pause and every
// limit of an event and counts it under all of them or none, so any number of worker processes
// share the limits, a refusal by one limit never spends another's slot, and a send asks Redis
// once. KEYS: ARGV[1] pause keys, then one key per limit; ARGV[2k], ARGV[2k+1]: limit k's
// emission interval and burst tolerance (ms). Returns 0 when allowed, else the ms to wait.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pauses = tonumber(ARGV[1])
local wait = 0
for i = 1, pauses do
  local left = redis.call('PTTL', KEYS[i])
  if left > wait then wait = left end
end
local tats = {}
for i = pauses + 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local allowed_at = tat - tonumber(ARGV[2 * (i - pauses) + 1])
  if allowed_at - now > wait then wait = allowed_at - now end
end
-- Rounded up: a wait under 1 ms returned as a Redis integer would read as "allowed".
if wait > 0 then return math.ceil(wait) end
for i = pauses + 1, #KEYS do
  local interval = tonumber(ARGV[2 * (i - pauses)])
  local new_tat = tats[i] + interval
  redis.call('SET', KEYS[i], new_tat, 'PX', math.ceil(new_tat - now + interval))
end
return 0`;

/** A limit an event must pass: `rate` for one subject in a scope. */
export interface Limit {
  scope: string;
  subject: string;
  rate: Rate;
}

/**
 * Rate limits kept in Redis, shared by every process: per business number, per recipient, per
 * Evolution instance. `admit` either admits an event or says how long to wait; a caller that must
 * wait puts its job back as delayed, it does not fail. Under Redis Cluster, `prefix` must carry a
 * hash tag (as BullMQ's prefix must), so that the keys one event checks share a slot.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * A subject's key. Its braces predate `admit` (each script then touched one key); now that one
   * event's keys must share a slot, a hash tag in the prefix, which comes first and wins, does it.
   */
  key(scope: string, subject: string): string {
    return `${this.prefix}:rate:{${scope}:${subject}}`;
  }

  /** Stops every event of a subject for `ms` (a provider's "slow down"), whatever the rate says. */
  async pause(scope: string, subject: string, ms: number): Promise<void> {
    await this.redis.set(this.pauseKey(scope, subject), '1', 'PX', ms);
  }

  /**
   * 0 when the event may happen now under every limit and none of `pausedBy` is paused (and it is
   * counted under each limit), else the ms to wait before asking again (and nothing is counted).
   */
  async admit(limits: Limit[], pausedBy: { scope: string; subject: string }[] = []): Promise<number> {
    const keys = [
      ...pausedBy.map((p) => this.pauseKey(p.scope, p.subject)),
      ...limits.map((l) => this.key(l.scope, l.subject)),
    ];
    const args: number[] = [pausedBy.length];
    for (const { rate } of limits) {
      const interval = rate.perMs / rate.count;
      args.push(interval, interval * Math.max(0, rate.burst - 1));
    }
    return Number(await this.redis.eval(ADMIT, keys.length, ...keys, ...args));
  }

  /** `admit` under a single limit. */
  take(scope: string, subject: string, rate: Rate): Promise<number> {
    return this.admit([{ scope, subject, rate }]);
  }

  private pauseKey(scope: string, subject: string): string {
    return `${this.key(scope, subject)}:paused`;
  }
}
