import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { quoteIdent } from '../../db/src/migrate';

/**
 * The migrated database every test file of a run clones. Each `jest` run makes its own (global
 * setup names it in this variable, which the test workers inherit), so two runs on one server,
 * say `npm test` in two checkouts, never drop or rebuild each other's template mid-run.
 */
export const TEMPLATE_DB_ENV = 'ZAPFLOW_TEST_TEMPLATE_DB';
/** The one shared template earlier versions used; global setup drops it if one is left. */
export const LEGACY_TEMPLATE_DB = 'zapflow_test_template';

export function templateDb(): string {
  const name = process.env[TEMPLATE_DB_ENV];
  if (!name)
    throw new Error(`${TEMPLATE_DB_ENV} is not set: run tests through jest, whose global setup makes the template`);
  return name;
}

/** A name for a database of the test suite's; global setup drops those older than an hour. */
export function testDatabaseName(kind: 'template' | 'file'): string {
  return `zapflow_test_${kind === 'template' ? 'template_' : ''}${Date.now()}_${randomBytes(4).toString('hex')}`;
}

/** The server tests run against: `TEST_DATABASE_URL`'s host, or the local PostgreSQL. */
function serverUrl(): URL {
  return new URL(process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
}

export function adminUrl(): string {
  const url = serverUrl();
  url.pathname = '/postgres';
  return url.toString();
}

export function testDatabaseUrl(name: string): string {
  const url = serverUrl();
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A database of this test file's own, cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = testDatabaseName('file');
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    // Two clones of one template at the same instant can collide ("being accessed by other users").
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(templateDb())}`);
        break;
      } catch (error) {
        if (attempt >= 20 || (error as { code?: string }).code !== '55006') throw error;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    name,
    url: testDatabaseUrl(name),
    drop: () => dropDatabase(name),
  };
}

/** Drops a database of the test suite's, connections and all. */
export async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
