import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '@zapflow/db';
import type { inboxQueue, Producer, sendQueue } from '@zapflow/queue-contracts';
import type { Logger } from '@zapflow/logger';
import { errorFields } from '@zapflow/logger';
import { HttpError } from './http-error';
import { InboxWriter } from './inbox-writer';
import type { IngestDeps } from './ingest.service';
import type { ApiMetrics } from './metrics';
import type { OutboundApiDeps } from './outbound.service';
import { ADMIN_QUEUES_PATH, adminRouter } from './routes/admin.route';
import { apiRouter, type ApiKey } from './routes/api.route';
import { evolutionWebhookRouter, type EvolutionWebhookOptions } from './routes/evolution-webhook.route';
import { healthRouter } from './routes/health.route';
import { whatsappWebhookRouter, type WhatsAppWebhookOptions } from './routes/whatsapp-webhook.route';

export interface AppDeps extends Omit<IngestDeps, 'writer'> {
  /** The inbox writer; main.ts passes its own to drain it on stop, tests let the app make one. */
  writer?: InboxWriter;
  redis: Redis;
  db: Db;
  inbox: Producer<typeof inboxQueue.schema>;
  logger: Logger;
  metrics: ApiMetrics;
  queues: Queue[];
  webhook: WhatsAppWebhookOptions;
  evolution: EvolutionWebhookOptions;
  admin: { user: string; password: string };
  apiKeys: ApiKey[];
  send: Producer<typeof sendQueue.schema>;
  /** How `/api` sends (provider, default business number); tests that do not send leave it out. */
  sending?: OutboundApiDeps['sending'];
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No answer here is ever fetched conditionally; an ETag would hash every webhook reply.
  app.set('etag', false);
  app.set('trust proxy', true);
  app.use(timing(deps.metrics));
  app.use(healthRouter(deps));
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  const ingest = { ...deps, writer: deps.writer ?? new InboxWriter(deps) };
  app.use(whatsappWebhookRouter(ingest, deps.webhook));
  app.use(evolutionWebhookRouter(ingest, deps.evolution));
  app.use(ADMIN_QUEUES_PATH, ...adminRouter(deps.queues, deps.admin));
  app.use(
    '/api',
    apiRouter({
      db: deps.db,
      logger: deps.logger,
      keys: deps.apiKeys,
      send: deps.send,
      sending: deps.sending ?? { provider: 'sandbox', maxTextChars: 4096 },
    }),
  );
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such route' } });
  });
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

function timing(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      end({
        method: req.method,
        route: req.route?.path ?? (res.statusCode === 404 ? 'unmatched' : req.baseUrl || req.path),
        status: res.statusCode,
      });
    });
    next();
  };
}

/** Every error becomes `{ error: { code, message } }`; unexpected ones are logged and are a 500. */
function errorHandler(logger: Logger, metrics: ApiMetrics): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: { code: error.code, message: error.message } });
      return;
    }
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      metrics.webhookRejected.inc({ reason: 'too_large' });
      res.status(413).json({ error: { code: 'payload_too_large', message: 'the body is over the size limit' } });
      return;
    }
    const status = (error as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: type ?? 'bad_request', message: (error as Error).message } });
      return;
    }
    logger.error('request failed', { method: req.method, path: req.path, ...errorFields(error) });
    res.status(500).json({
      error: { code: 'internal', message: 'zapflow could not process this request; it is safe to retry' },
    });
  };
}
