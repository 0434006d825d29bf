import { Redis } from 'ioredis';
import { Client } from 'pg';

/** How much work the stores have done so far: what a load's share of it is counted from. */
export interface StoreCalls {
  /** Transactions committed in the benchmark's database (each statement outside one counts). */
  pgTransactions: number;
  /** Commands Redis ran, a script's own commands included. */
  redisCommands: number;
  /** Of those, Lua scripts run (EVAL and EVALSHA: BullMQ's job moves, zapflow's locks and limits). */
  redisScripts: number;
}

// PostgreSQL 15 sends a backend's counts to the statistics at the end of a transaction at most
// once a second, and an idle backend's within 10 s: read until two reads a second apart agree.
const SETTLE_INTERVAL_MS = 1000;
const SETTLE_LIMIT_MS = 15_000;

/**
 * Counts the round trips a load costs each store, from PostgreSQL's statistics for one database
 * and Redis's command statistics (the whole server: a benchmark should run alone). One reading
 * before a load and one after, divided by what the load did, give e.g. the transactions and
 * Redis commands a message costs; that stays put on a slow day, unlike the time they take.
 */
export async function readStoreCalls(databaseUrl: string, redisUrl: string, { settle = false } = {}) {
  const database = new URL(databaseUrl).pathname.slice(1);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const pg = new Client({ connectionString: admin.toString() });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  await pg.connect();
  try {
    const transactions = async () => {
      await pg.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await pg.query<{ n: string }>(
        'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1',
        [database],
      );
      return Number(rows[0]?.n ?? 0);
    };
    let pgTransactions = await transactions();
    for (const deadline = Date.now() + SETTLE_LIMIT_MS; settle && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, SETTLE_INTERVAL_MS));
      const again = await transactions();
      if (again === pgTransactions) break;
      pgTransactions = again;
    }
    const commands = parseCommandStats(await redis.info('commandstats'));
    let redisCommands = 0;
    for (const calls of commands.values()) redisCommands += calls;
    const redisScripts = (commands.get('eval') ?? 0) + (commands.get('evalsha') ?? 0);
    return { pgTransactions, redisCommands, redisScripts } satisfies StoreCalls;
  } finally {
    await pg.end();
    redis.disconnect();
  }
}

/** `cmdstat_get:calls=12,usec=...` lines of `INFO commandstats`: calls by command. */
export function parseCommandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** "PostgreSQL 8.6 transactions, Redis 150 commands (8.5 scripts) per reply" from two readings. */
export function describeStoreCalls(before: StoreCalls, after: StoreCalls, per: number): string {
  const each = (key: keyof StoreCalls) => ((after[key] - before[key]) / per).toFixed(1);
  return (
    `PostgreSQL ${each('pgTransactions')} transactions, ` +
    `Redis ${each('redisCommands')} commands (${each('redisScripts')} of them scripts)`
  );
}
