import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router } from 'express';
import { isValidSignature } from '@zapflow/whatsapp';
import { HttpError } from '../http-error';
import { parseJsonBody } from '../json-body';
import { answerDelivery } from '../webhook-answer';
import { ingestCloudNotification, type IngestDeps } from '../ingest.service';

export interface WhatsAppWebhookOptions {
  appSecret: string | undefined;
  verifyToken: string | undefined;
  bodyLimitBytes: number;
}

/**
 * Meta's webhook. The POST handler reads the raw bytes (whatever the Content-Type), checks the
 * signature over exactly those bytes before anything else, then parses, then hands over to the
 * ingest service; it answers 200 only once every event is durably recorded.
 */
export function whatsappWebhookRouter(deps: IngestDeps, options: WhatsAppWebhookOptions): Router {
  const router = Router();

  router.get('/webhook/whatsapp', (req, res) => {
    const mode = req.query['hub.mode'];
    const token = req.query['hub.verify_token'];
    const challenge = req.query['hub.challenge'];
    if (
      mode === 'subscribe' &&
      typeof token === 'string' &&
      sameSecret(token, options.verifyToken) &&
      typeof challenge === 'string'
    ) {
      res.status(200).type('text/plain').send(challenge);
      return;
    }
    deps.logger.warn('webhook subscription handshake refused', { mode });
    res.sendStatus(403);
  });

  router.post(
    '/webhook/whatsapp',
    express.raw({ type: () => true, limit: options.bodyLimitBytes }),
    async (req, res) => {
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!options.appSecret || !isValidSignature(raw, req.get('x-hub-signature-256'), options.appSecret)) {
        deps.metrics.webhookRejected.inc({ reason: 'signature' });
        throw new HttpError(401, 'invalid_signature', 'X-Hub-Signature-256 is missing or does not match the body');
      }
      const body = parseJsonBody(raw, deps.metrics);
      const outcome = await ingestCloudNotification(deps, body);
      answerDelivery(res, { ok: true, ...outcome });
    },
  );

  return router;
}

/** Compares a secret without leaking through timing how much of it matched. */
function sameSecret(given: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
