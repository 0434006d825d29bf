import { Client } from 'pg';
import { quoteIdent } from '../../db/src/migrate';
import { adminUrl, TEMPLATE_DB_ENV } from './test-db';

/** Drops this run's template database (`global-setup.ts`); every test file has dropped its clone. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env[TEMPLATE_DB_ENV];
  if (!template) return;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
