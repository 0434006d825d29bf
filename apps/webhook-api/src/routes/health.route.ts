import { Router } from 'express';
import type { Redis } from 'ioredis';
import { pingDb, type Db } from '@zapflow/db';

/** `/health`: the process runs. `/ready`: it can do its work (Redis and PostgreSQL answer). */
export function healthRouter({ db, redis }: { db: Db; redis: Redis }): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const checks = await Promise.all([check('redis', () => redis.ping()), check('postgres', () => pingDb(db))]);
    const failed = checks.filter((c) => !c.ok);
    res.status(failed.length ? 503 : 200).json({
      status: failed.length ? 'unavailable' : 'ready',
      checks: Object.fromEntries(checks.map((c) => [c.name, c.ok ? 'ok' : c.error])),
    });
  });
  return router;
}

async function check(name: string, probe: () => Promise<unknown>) {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('timed out after 2 s')), 2000).unref(),
  );
  try {
    await Promise.race([probe(), timeout]);
    return { name, ok: true as const };
  } catch (error) {
    return { name, ok: false as const, error: (error as Error).message };
  }
}
