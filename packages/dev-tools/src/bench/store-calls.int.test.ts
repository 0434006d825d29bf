import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { createTestDatabase, deleteKeys, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from '@zapflow/testkit';
import { describeStoreCalls, parseCommandStats, readStoreCalls } from './store-calls';

const prefix = uniquePrefix('store-calls');
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
  await deleteKeys(prefix);
});

describe('store calls', () => {
  it("counts a load's transactions in its own database and Redis's commands and scripts", async () => {
    const before = await readStoreCalls(database.url, TEST_REDIS_URL, { settle: true });
    const pg = new Client({ connectionString: database.url });
    await pg.connect();
    for (let i = 0; i < 7; i++) await pg.query('SELECT 1');
    await pg.end(); // a backend sends its counts when it ends, if not before
    const redis = new Redis(TEST_REDIS_URL);
    for (let i = 0; i < 10; i++) await redis.set(`${prefix}:k${i}`, 'v');
    await redis.eval("return redis.call('GET', KEYS[1])", 1, `${prefix}:k0`);
    redis.disconnect();
    const after = await readStoreCalls(database.url, TEST_REDIS_URL, { settle: true });

    // Only this test uses its database: its 7 statements and the one a backend's start commits
    // (the reading itself uses the postgres database). Redis is shared with other test files.
    expect(after.pgTransactions - before.pgTransactions).toBe(8);
    expect(after.redisCommands - before.redisCommands).toBeGreaterThanOrEqual(12); // 10 SET, EVAL, its GET
    expect(after.redisScripts - before.redisScripts).toBeGreaterThanOrEqual(1);
  });

  it('reads calls by command from INFO commandstats', () => {
    const info = [
      '# Commandstats',
      'cmdstat_evalsha:calls=85,usec=9913,usec_per_call=116.62,rejected_calls=0,failed_calls=0',
      'cmdstat_get:calls=12,usec=15,usec_per_call=1.25,rejected_calls=0,failed_calls=0',
      '',
    ].join('\r\n');
    expect(parseCommandStats(info)).toEqual(
      new Map([
        ['evalsha', 85],
        ['get', 12],
      ]),
    );
  });

  it('describes the difference per unit of work', () => {
    const before = { pgTransactions: 100, redisCommands: 1000, redisScripts: 10 };
    const after = { pgTransactions: 186, redisCommands: 2500, redisScripts: 95 };
    expect(describeStoreCalls(before, after, 10)).toBe(
      'PostgreSQL 8.6 transactions, Redis 150.0 commands (8.5 of them scripts)',
    );
  });
});
