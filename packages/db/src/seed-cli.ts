import { createDb } from './client';
import { SAMPLE_CATALOG, seedCatalog } from './sample-catalog';

// `npm run db:seed`: puts the sample car catalog in a migrated database (run db:migrate first).
// Safe to run again: items already as in the sample are left alone.
const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zapflow';
const db = createDb({ url, poolSize: 2 });

seedCatalog(db)
  .then(({ created, updated, unchanged }) => {
    console.log(
      `db:seed: sample catalog of ${SAMPLE_CATALOG.length} items (${created} created, ${updated} updated, ${unchanged} unchanged)`,
    );
  })
  .catch((error: Error) => {
    console.error(
      `db:seed: ${error.message}. Check DATABASE_URL, that PostgreSQL is running and that db:migrate has run.`,
    );
    process.exitCode = 1;
  })
  .finally(() => db.$disconnect());
