import type { Redis } from 'ioredis';

// Takes the lock and hands out the next fencing token in one step. The token only grows, so the
// store can refuse a write from an older holder whose lock expired while it was still working.
// ARGV[2] is the highest token the store has seen: if Redis lost the counter, it restarts above
// it instead of at 1 (which the store would refuse forever).
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fence = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[2])
if fence <= floor then
  fence = floor + 1
  redis.call('SET', KEYS[2], fence)
end
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return fence`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface HeldLock {
  /** The fencing token: pass it to the store, which keeps only the highest it has seen. */
  fence: number;
  /** False once the lock could not be renewed (it expired and someone else may hold it). */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * A mutual-exclusion lock in Redis with a fencing token (`SET NX PX` plus a counter), renewed while
 * held. Redis alone cannot make a lock safe against a holder that stalls past its TTL; the token
 * lets PostgreSQL refuse that holder's late write. Keys are `${prefix}:lock:{name}` and
 * `${prefix}:fence:{name}`, hash-tagged so one script's keys share a cluster slot.
 */
export class FencedLock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private keys(name: string): [string, string] {
    return [`${this.prefix}:lock:{${name}}`, `${this.prefix}:fence:{${name}}`];
  }

  /**
   * The lock, or null when someone else holds it. `fenceFloor` is the highest token the store has
   * accepted: the token handed out is always above it.
   */
  async acquire(name: string, fenceFloor = 0): Promise<HeldLock | null> {
    const [lockKey, fenceKey] = this.keys(name);
    const fence = Number(await this.redis.eval(ACQUIRE, 2, lockKey, fenceKey, this.ttlMs, fenceFloor));
    if (!fence) return null;
    let held = true;
    const timer = setInterval(
      () => {
        this.redis.eval(RENEW, 1, lockKey, String(fence), this.ttlMs).then(
          (renewed) => {
            if (renewed !== 1) held = false;
          },
          () => {
            // Redis unreachable: keep trying; the fence protects the store meanwhile.
          },
        );
      },
      Math.max(100, Math.floor(this.ttlMs / 3)),
    );
    timer.unref();
    return {
      fence,
      get held() {
        return held;
      },
      release: async () => {
        clearInterval(timer);
        held = false;
        await this.redis.eval(RELEASE, 1, lockKey, String(fence));
      },
    };
  }
}
