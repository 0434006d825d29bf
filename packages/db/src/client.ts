import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';

export type Db = PrismaClient;

export interface DbOptions {
  url: string;
  /** Connections in this process, both pools together (at least one each). */
  poolSize?: number;
}

type StatementNames = (query: { sql: string }) => string | undefined;

/** The pool under each client `createDb` made, for the statements `query` runs without Prisma. */
const pools = new WeakMap<Db, { pool: Pool; names: StatementNames }>();

/**
 * How the message path's connections plan (`query`'s pool; see `createDb`). PostgreSQL keeps a
 * custom plan for a prepared statement when it guesses a generic one dearer, and the hot
 * statements' `= ANY($1)` arrays and JSON sets make it guess so: at 100 messages/s planning was
 * 46 % of their time. Forced generic plans are made once per connection, so one made while a
 * table was nearly empty (a fresh deployment, a test) would scan that table in full for as long
 * as the connection lives; without sequential scans the planner takes the index each lookup is
 * written for. No JIT: a point lookup never pays back its compile time. Every statement on this
 * pool is a lookup by key; anything that reads a table whole belongs on Prisma's pool.
 */
export const MESSAGE_PATH_SETTINGS = '-c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c jit=off';

/**
 * `url` with the message path's settings added to its startup `options` (after any it names), so
 * a connection has them from its first statement. node-postgres lets a URL's `options` override
 * the pool's, hence the URL. (A PgBouncer in front refuses `options` unless it is told to ignore
 * them, `ignore_startup_parameters`; the path then plans as the server does by default.)
 */
export function messagePathUrl(url: string): string {
  const withSettings = new URL(url);
  const own = withSettings.searchParams.get('options');
  withSettings.searchParams.set('options', own ? `${own} ${MESSAGE_PATH_SETTINGS}` : MESSAGE_PATH_SETTINGS);
  return withSettings.toString();
}

/**
 * A Prisma client over node-postgres (the Rust-free client needs a driver adapter), and beside
 * it the pool `query` runs the message path on, with that path's planner settings
 * (`MESSAGE_PATH_SETTINGS`). Of `poolSize` connections, three in ten go to Prisma (the admin
 * API, sweepers, statuses), the rest to the message path.
 */
export function createDb({ url, poolSize = 10 }: DbOptions): Db {
  const prismaShare = Math.max(1, Math.floor(poolSize * 0.3));
  const pool = new Pool({ connectionString: messagePathUrl(url), max: Math.max(1, poolSize - prismaShare) });
  const prismaPool = new Pool({ connectionString: url, max: prismaShare });
  // An idle connection that breaks (PostgreSQL restarted) is dropped by the pool; without a
  // listener its error would end the process. Prisma's adapter adds its own once it connects.
  pool.on('error', () => undefined);
  prismaPool.on('error', () => undefined);
  const names = preparedStatementNames();
  const adapter = new PrismaPg(prismaPool, {
    // The generator may answer "no name" (an unprepared statement); Prisma's type says string.
    statementNameGenerator: preparedStatementNames() as (query: { sql: string }) => string,
    disposeExternalPool: true,
  });
  const db = new PrismaClient({ adapter });
  // Prisma ends its pool on $disconnect only if it ever connected; `query` has a pool of its own.
  const disconnect = db.$disconnect.bind(db);
  db.$disconnect = async () => {
    await disconnect();
    if (!prismaPool.ended) await prismaPool.end();
    if (!pool.ended) await pool.end();
  };
  pools.set(db, { pool, names });
  return db;
}

/**
 * Names every distinct SQL text, so node-postgres prepares it once per connection and
 * PostgreSQL parses it once and, after a few runs, keeps a generic plan. Unnamed, each run of
 * the message path's statements was parsed and planned again: planning cost PostgreSQL twice
 * what executing did (pg_stat_statements, bench flood). Names are bounded: past `limit`
 * distinct texts (should a query shape vary without end) the rest run unprepared, so neither
 * this process nor a PostgreSQL connection holds statements without limit.
 */
export function preparedStatementNames(limit = 500): StatementNames {
  const names = new Map<string, string>();
  return ({ sql }) => {
    let name = names.get(sql);
    if (name === undefined && names.size < limit) {
      name = `zf_${names.size + 1}`;
      names.set(sql, name);
    }
    return name;
  };
}

/** SQL text with `$n` placeholders and the values they stand for. */
export interface Statement {
  text: string;
  values: unknown[];
}

const texts = new WeakMap<TemplateStringsArray, string>();

/** A statement from a template, each `${value}` a parameter, as with Prisma's `$queryRaw`. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Statement {
  let text = texts.get(strings);
  if (text === undefined) {
    text = strings.reduce((all, part, i) => `${all}$${i}${part}`);
    texts.set(strings, text);
  }
  return { text, values };
}

/**
 * Runs a statement of the message path, prepared, on the pool kept for it (planned generically and
 * without sequential scans: `MESSAGE_PATH_SETTINGS`; a statement that reads a table whole belongs
 * on Prisma), without Prisma's query engine: a raw query cost about 200 µs of CPU through Prisma against 75 µs
 * through node-postgres (3,000 of each, `process.cpuUsage`, this machine), and a message runs
 * seven of them. Rows are as node-postgres parses them: uuid and text as strings, timestamptz
 * as Date, json as objects, int4 as numbers, but int8 as strings (select none without a cast).
 * Errors are node-postgres's `DatabaseError`, with PostgreSQL's SQLSTATE in `code`.
 */
export async function query<Row>(db: Db, statement: Statement): Promise<{ rows: Row[]; rowCount: number }> {
  const own = pools.get(db);
  if (!own) throw new Error("query() needs a client made by createDb: it runs on that client's pool");
  const result = await own.pool.query({
    name: own.names({ sql: statement.text }),
    text: statement.text,
    values: statement.values,
  });
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
}

/** One round trip that proves the database answers; used by /ready. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
