import { migrate } from './migrate';

// `npm run db:migrate`: what a deploy runs before the apps start.
const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zapflow';

migrate(url, (line) => console.log(`db:migrate: ${line}`))
  .then(({ applied }) => {
    console.log(`db:migrate: up to date (${applied.length} applied now)`);
  })
  .catch((error: Error) => {
    console.error(`db:migrate: ${error.message}. Check DATABASE_URL and that PostgreSQL is running.`);
    process.exit(1);
  });
