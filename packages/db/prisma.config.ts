import { defineConfig } from 'prisma/config';

// The URL is read here rather than with env() because env() throws when the variable is unset,
// even for `prisma generate`, which never connects.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zapflow',
  },
});
