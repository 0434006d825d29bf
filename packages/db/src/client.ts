import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client';

export type Db = PrismaClient;

export interface DbOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize?: number;
}

/** A Prisma client over node-postgres (the Rust-free client needs a driver adapter). */
export function createDb({ url, poolSize = 10 }: DbOptions): Db {
  const adapter = new PrismaPg(
    { connectionString: url, max: poolSize },
    // The generator may answer "no name" (an unprepared statement); Prisma's type says string.
    { statementNameGenerator: preparedStatementNames() as (query: { sql: string }) => string },
  );
  return new PrismaClient({ adapter });
}

/**
 * Names every distinct SQL text, so node-postgres prepares it once per connection and
 * PostgreSQL parses it once and, after a few runs, keeps a generic plan. Unnamed, each run of
 * the message path's statements was parsed and planned again: planning cost PostgreSQL twice
 * what executing did (pg_stat_statements, bench flood). Names are bounded: past `limit`
 * distinct texts (should a query shape vary without end) the rest run unprepared, so neither
 * this process nor a PostgreSQL connection holds statements without limit.
 */
export function preparedStatementNames(limit = 500): (query: { sql: string }) => string | undefined {
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

/** One round trip that proves the database answers; used by /ready. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
