import { Client } from 'pg';
import { migrate, quoteIdent } from '../../db/src/migrate';
import { adminUrl, TEMPLATE_DB, testDatabaseUrl } from './test-db';

/**
 * Once per `jest` run: a fresh template database with every migration applied. Each test file
 * then clones it (`CREATE DATABASE ... TEMPLATE`), which takes milliseconds, and drops its clone.
 */
export default async function globalSetup(): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(TEMPLATE_DB)} WITH (FORCE)`);
    // Clones left by an interrupted run would pile up: drop any older than an hour.
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'zapflow_test_%' AND datname <> $1`,
      [TEMPLATE_DB],
    );
    for (const { datname } of stale.rows) {
      const created = Number(datname.split('_').at(-2));
      if (Number.isFinite(created) && Date.now() - created > 3_600_000) {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
      }
    }
  } finally {
    await admin.end();
  }
  await migrate(testDatabaseUrl(TEMPLATE_DB));
}
