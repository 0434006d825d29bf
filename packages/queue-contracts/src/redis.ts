import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections the way BullMQ wants them in production: workers (blocking commands) retry
 * forever (`maxRetriesPerRequest: null`); producers fail fast (`enableOfflineQueue: false`) so a
 * webhook never hangs on a dead Redis; it answers from PostgreSQL and the sweeper queues later.
 */
export function createRedis(url: string, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    // Reconnect forever, backing off to 2 s: a Redis restart must not take the process down.
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
    // A producer must not hang on a Redis that accepts connections but stops answering: the
    // webhook has already committed to PostgreSQL and the sweeper will queue what is missed.
    ...(role === 'producer' ? { commandTimeout: 1000 } : {}),
    ...extra,
  });
}
