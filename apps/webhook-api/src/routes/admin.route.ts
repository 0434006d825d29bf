import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';

export const ADMIN_QUEUES_PATH = '/admin/queues';

/** Bull Board at /admin/queues, behind HTTP basic auth (Bull Board has none of its own). */
export function adminRouter(
  queues: Queue[],
  credentials: { user: string; password: string },
): [RequestHandler, Router] {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter });
  return [basicAuth(credentials), serverAdapter.getRouter() as Router];
}

function basicAuth({ user, password }: { user: string; password: string }): RequestHandler {
  const expected = Buffer.from(`${user}:${password}`);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64') : Buffer.alloc(0);
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      next();
      return;
    }
    res
      .set('WWW-Authenticate', 'Basic realm="zapflow admin"')
      .status(401)
      .json({
        error: { code: 'unauthorized', message: 'log in with ADMIN_USER and ADMIN_PASSWORD' },
      });
  };
}
