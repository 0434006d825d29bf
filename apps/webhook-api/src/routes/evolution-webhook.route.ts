import express, { Router, type RequestHandler } from 'express';
import { HttpError } from '../http-error';
import { parseJsonBody } from '../json-body';
import { answerDelivery } from '../webhook-answer';
import {
  ingestEvolutionWebhook,
  isAuthenticEvolutionDelivery,
  type EvolutionIngestDeps,
} from '../evolution-ingest.service';

export interface EvolutionWebhookOptions {
  /** EVOLUTION_API_KEY; while unset every delivery is refused. */
  apiKey: string | undefined;
  bodyLimitBytes: number;
}

/**
 * Evolution API's webhook. The POST handler reads the raw bytes (whatever the Content-Type) under
 * the size limit, parses them, checks the `apikey` the delivery carries (header or body field),
 * then hands over to the ingest service; it answers 200 only once every message is durably
 * recorded.
 */
export function evolutionWebhookRouter(deps: EvolutionIngestDeps, options: EvolutionWebhookOptions): Router {
  const router = Router();
  const readBody = express.raw({ type: () => true, limit: options.bodyLimitBytes });

  const receive: RequestHandler = async (req, res) => {
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const body = parseJsonBody(raw, deps.metrics);
    if (!isAuthenticEvolutionDelivery(options.apiKey, body, req.headers)) {
      deps.metrics.webhookRejected.inc({ reason: 'api_key' });
      throw new HttpError(401, 'invalid_api_key', 'the apikey (header or body field) is missing or wrong');
    }
    const outcome = await ingestEvolutionWebhook(deps, body);
    answerDelivery(res, { ok: true, ...outcome });
  };

  router.post('/webhook/evolution', readBody, receive);
  // With "webhook by events" on, Evolution appends the event to the URL: /webhook/evolution/messages-upsert.
  router.post('/webhook/evolution/:event', readBody, receive);
  return router;
}
