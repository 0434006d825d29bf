import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';

export type Db = PrismaClient;

export interface DbOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize?: number;
}

type StatementNames = (query: { sql: string }) => string | undefined;

/** The pool under each client `createDb` made, for the statements `query` runs without Prisma. */
const pools = new WeakMap<Db, { pool: Pool; names: StatementNames }>();

/**
 * A Prisma client over node-postgres (the Rust-free client needs a driver adapter). Prisma and
 * `query` share one pool, so the process holds `poolSize` connections in all.
 */
export function createDb({ url, poolSize = 10 }: DbOptions): Db {
  const pool = new Pool({ connectionString: url, max: poolSize });
  // An idle connection that breaks (PostgreSQL restarted) is dropped by the pool; without a
  // listener its error would end the process. Prisma's adapter adds its own once it connects.
  pool.on('error', () => undefined);
  const names = preparedStatementNames();
  const adapter = new PrismaPg(pool, {
    // The generator may answer "no name" (an unprepared statement); Prisma's type says string.
    statementNameGenerator: names as (query: { sql: string }) => string,
    disposeExternalPool: true,
  });
  const db = new PrismaClient({ adapter });
  // Prisma ends the pool on $disconnect only if it ever connected; `query` may have used it alone.
  const disconnect = db.$disconnect.bind(db);
  db.$disconnect = async () => {
    await disconnect();
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
 * Runs a statement of the message path on the client's pool, prepared like every other, without
 * Prisma's query engine: a raw query cost about 200 µs of CPU through Prisma against 75 µs
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
