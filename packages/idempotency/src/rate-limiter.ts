import type { Redis } from 'ioredis';

/** A rate: `count` events per `perMs`, with bursts of up to `burst` events at once. */
export interface Rate {
  count: number;
  perMs: number;
  burst: number;
}

// GCRA (generic cell rate algorithm): one key per subject holding its "theoretical arrival
// time". An event is allowed if it does not arrive earlier than TAT - burst tolerance; allowing
// it pushes TAT one emission interval further. One atomic script, so any number of worker
// processes share the limit. Returns 0 when allowed, else how many ms until it would be.
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return allowed_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + interval))
return 0`;

/**
 * Rate limits kept in Redis, shared by every process: per business number, per recipient, per
 * Evolution instance. `take` either admits an event or says how long to wait; a caller that must
 * wait puts its job back as delayed, it does not fail.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  key(scope: string, subject: string): string {
    return `${this.prefix}:rate:{${scope}:${subject}}`;
  }

  /** Stops every event of a subject for `ms` (a provider's "slow down"), whatever the rate says. */
  async pause(scope: string, subject: string, ms: number): Promise<void> {
    await this.redis.set(`${this.key(scope, subject)}:paused`, '1', 'PX', ms);
  }

  /** How long the subject stays paused (0 if it is not). */
  async pausedFor(scope: string, subject: string): Promise<number> {
    return Math.max(0, await this.redis.pttl(`${this.key(scope, subject)}:paused`));
  }

  /** 0 when the event may happen now (and it is counted), else the ms to wait (nothing counted). */
  async take(scope: string, subject: string, rate: Rate): Promise<number> {
    const interval = rate.perMs / rate.count;
    const tolerance = interval * Math.max(0, rate.burst - 1);
    return Number(await this.redis.eval(GCRA, 1, this.key(scope, subject), interval, tolerance));
  }
}
