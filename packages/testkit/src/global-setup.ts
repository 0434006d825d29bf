import { Client } from 'pg';
import { migrate, quoteIdent } from '../../db/src/migrate';
import { adminUrl, LEGACY_TEMPLATE_DB, TEMPLATE_DB_ENV, testDatabaseName, testDatabaseUrl } from './test-db';

/**
 * Once per `jest` run: a fresh template database of this run's own with every migration applied.
 * Each test file then clones it (`CREATE DATABASE ... TEMPLATE`), which takes milliseconds, and
 * drops its clone; global teardown drops the template.
 */
export default async function globalSetup(): Promise<void> {
  const template = testDatabaseName('template');
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(LEGACY_TEMPLATE_DB)} WITH (FORCE)`);
    // Databases left by an interrupted run would pile up: drop any older than an hour (a run of
    // its own takes minutes, so a concurrent run's are younger).
    const stale = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'zapflow\\_test\\_%'`,
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
  await migrate(testDatabaseUrl(template));
  // Set only once the template is ready; the test workers inherit it.
  process.env[TEMPLATE_DB_ENV] = template;
}
