import { dropDatabase, TEMPLATE_DB_ENV } from './test-db';

/** Drops this run's template database (`global-setup.ts`); every test file has dropped its clone. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env[TEMPLATE_DB_ENV];
  if (template) await dropDatabase(template);
}
