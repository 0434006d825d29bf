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
  const adapter = new PrismaPg({ connectionString: url, max: poolSize });
  return new PrismaClient({ adapter });
}

/** One round trip that proves the database answers; used by /ready. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRaw`SELECT 1`;
}
