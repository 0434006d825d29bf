import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export type ClaimResult<T> =
  /** Ours: do the work, then `complete` (or `release` on failure). */
  | { state: 'claimed'; token: string }
  /** Someone else is doing it right now; try again after the in-progress TTL at the latest. */
  | { state: 'in_progress' }
  /** Already done; here is what it produced. */
  | { state: 'done'; result: T };

export interface IdempotencyOptions {
  /** Every key is `${prefix}:idem:${key}` (use a hash-tagged prefix such as `{zapflow}` on a cluster). */
  prefix: string;
  /** How long "done" is remembered, with its result (`IDEMPOTENCY_TTL_S`). */
  doneTtlS: number;
  /** How long an "in progress" claim lives if its owner dies without completing or releasing. */
  inProgressTtlMs: number;
}

const IN_PROGRESS = 'p:';
const DONE = 'd:';

// Moves a key from "in progress by token" to "done with result". A claim that expired in the
// meantime (key gone) is completed too: the work is done either way. A claim now held by another
// token is left alone; the caller learns it lost.
const COMPLETE = `
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Two-state idempotency in Redis: "in progress" (short TTL, so a crashed owner frees the key)
 * and "done" (long TTL, with a cached result). A claim is one `SET NX GET` round trip, atomic
 * however many processes race for the same key.
 */
export class Idempotency {
  constructor(
    private readonly redis: Redis,
    private readonly options: IdempotencyOptions,
  ) {}

  key(id: string): string {
    return `${this.options.prefix}:idem:${id}`;
  }

  async claim<T = unknown>(id: string): Promise<ClaimResult<T>> {
    const token = randomUUID();
    const previous = await this.redis.set(
      this.key(id),
      IN_PROGRESS + token,
      'PX',
      this.options.inProgressTtlMs,
      'NX',
      'GET',
    );
    if (previous === null) return { state: 'claimed', token };
    if (previous.startsWith(DONE)) return { state: 'done', result: JSON.parse(previous.slice(DONE.length)) as T };
    return { state: 'in_progress' };
  }

  /** Records the result; false when the claim had passed to someone else. */
  async complete(id: string, token: string, result: unknown = null): Promise<boolean> {
    const done = await this.redis.eval(
      COMPLETE,
      1,
      this.key(id),
      IN_PROGRESS + token,
      DONE + JSON.stringify(result ?? null),
      this.options.doneTtlS,
    );
    return done === 1;
  }

  /** Gives up a claim after a failure so that a retry can claim at once. */
  async release(id: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(id), IN_PROGRESS + token);
  }
}
