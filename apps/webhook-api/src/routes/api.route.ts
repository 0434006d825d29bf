import { createHash, timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { isUnstorableText, listManualQueue, releaseConversation, settleManualMessage, type Db } from '@zapflow/db';
import type { Producer, sendQueue } from '@zapflow/queue-contracts';
import type { Logger } from '@zapflow/logger';
import { HttpError } from '../http-error';
import {
  BroadcastRequest,
  MessageRequest,
  queueBroadcast,
  queueMessage,
  readBroadcast,
  retryFailed,
  type OutboundApiDeps,
} from '../outbound.service';

/** `API_KEYS` entries: `orgSlug:key`. */
export interface ApiKey {
  org: string;
  key: string;
}

export function parseApiKeys(entries: string[]): ApiKey[] {
  return entries.map((entry) => {
    const at = entry.indexOf(':');
    if (at < 1 || at === entry.length - 1) throw new Error('API_KEYS: each entry must be orgSlug:key');
    return { org: entry.slice(0, at), key: entry.slice(at + 1) };
  });
}

/**
 * The operator API under /api: bearer keys, JSON in and out, errors as
 * `{ error: { code, message } }`.
 */
export function apiRouter({
  db,
  logger,
  keys,
  send,
  sending,
}: {
  db: Db;
  logger: Logger;
  keys: ApiKey[];
  send: Producer<typeof sendQueue.schema>;
  sending: OutboundApiDeps['sending'];
}): Router {
  const router = Router();
  const outbound: OutboundApiDeps = { db, send, logger, sending };
  // Who is asking comes before reading what they sent.
  router.use(bearerAuth(keys));
  // A broadcast of 10,000 recipients with per-recipient parameters fits.
  router.use(express.json({ limit: '5mb' }));

  // One message to one contact, sent like the bot's replies (limits, 24-hour window, fallback).
  router.post('/messages', async (req, res) => {
    const ids = await queueMessage(outbound, parseBody(MessageRequest, req.body));
    res.status(202).json({ messages: ids.map((id) => ({ id, status: 'queued' })) });
  });

  // A template to many recipients: one send job each, paced by the limits, behind live replies.
  router.post('/broadcasts', async (req, res) => {
    const result = await queueBroadcast(outbound, parseBody(BroadcastRequest, req.body), res.locals.org as string);
    res.status(202).json(result);
  });

  router.get('/broadcasts/:id', async (req, res) => {
    res.json(await readBroadcast(outbound, parseId(req.params.id, 'broadcast')));
  });

  router.post('/monitoring/retry-failed', async (req, res) => {
    const { hours } = parseBody(
      z.object({
        hours: z
          .number()
          .positive()
          .max(24 * 30)
          .default(24),
      }),
      req.body ?? {},
    );
    const ids = await retryFailed(outbound, hours);
    logger.info('retry-failed asked', { hours, org: res.locals.org });
    res.json({ hours, requeued: ids.length, ids });
  });

  router.post('/conversations/:id/release', async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    if (!id.success) throw new HttpError(400, 'invalid_id', 'the conversation id must be a UUID');
    const conversation = await db.conversation.findUnique({
      where: { id: id.data },
      select: { id: true, state: true },
    });
    if (!conversation) throw new HttpError(404, 'not_found', `no conversation ${id.data}`);
    const released = await releaseConversation(db, id.data, 'operator');
    logger.info(
      released ? 'conversation released to the bot' : 'release asked for a conversation already with the bot',
      {
        conversationId: id.data,
        org: res.locals.org,
      },
    );
    res.json({ conversationId: id.data, state: 'bot', released });
  });

  // The manual queue: messages that could not be sent automatically, each with its reason.
  router.get('/manual-queue', async (req, res) => {
    const limit = z.coerce.number().int().min(1).max(500).catch(100).parse(req.query.limit);
    const items = await listManualQueue(db, { limit });
    res.json({
      items: items.map((m) => ({
        id: m.id,
        conversationId: m.conversationId,
        to: m.conversation.contact.waId,
        from: m.channel.externalId,
        type: m.type,
        body: m.body,
        errorCode: m.errorCode,
        errorMessage: m.errorMessage,
        failedAt: m.failedAt,
        attempts: m.sendAttempts,
      })),
    });
  });

  router.post('/manual-queue/:id/:action', async (req, res) => {
    const id = z.uuid().safeParse(req.params.id);
    const action = z.enum(['resend', 'discard']).safeParse(req.params.action);
    if (!action.success) throw new HttpError(404, 'not_found', 'use /resend or /discard');
    if (!id.success) throw new HttpError(400, 'invalid_id', 'the message id must be a UUID');
    if (!(await settleManualMessage(db, id.data, action.data))) {
      throw new HttpError(404, 'not_found', `message ${id.data} is not in the manual queue`);
    }
    if (action.data === 'resend') await send.addAgain({ messageId: id.data });
    logger.info(`manual queue: ${action.data}`, { messageId: id.data, org: res.locals.org });
    res.json({ id: id.data, status: action.data === 'resend' ? 'queued' : 'discarded' });
  });

  return router;
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new HttpError(400, 'invalid_request', `${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`);
  }
  const unstorable = pathToUnstorable(parsed.data, []);
  if (unstorable) {
    throw new HttpError(
      400,
      'invalid_request',
      `${unstorable.join('.') || 'body'}: contains a NUL character (U+0000) or half of a surrogate pair, which cannot be stored or sent`,
    );
  }
  return parsed.data;
}

/**
 * Where a request holds text PostgreSQL refuses in text and jsonb (a NUL character, or a lone
 * surrogate escaped in the JSON), in a value or a key, or null. Without this check such a
 * request would fail at the insert as a 500 that names nothing the caller can fix.
 */
function pathToUnstorable(value: unknown, path: (string | number)[]): (string | number)[] | null {
  if (typeof value === 'string') return isUnstorableText(value) ? path : null;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = pathToUnstorable(item, [...path, index]);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (isUnstorableText(key)) return [...path, key];
      const found = pathToUnstorable(item, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}

function parseId(value: unknown, what: string): string {
  const id = z.uuid().safeParse(value);
  if (!id.success) throw new HttpError(400, 'invalid_id', `the ${what} id must be a UUID`);
  return id.data;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function bearerAuth(keys: ApiKey[]): RequestHandler {
  // Compare digests: equal lengths for timingSafeEqual, and no early exit on the first byte.
  const known = keys.map((k) => ({ org: k.org, digest: digest(k.key) }));
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const given = digest(token);
    const match = token ? known.find((k) => timingSafeEqual(k.digest, given)) : undefined;
    if (!match) {
      throw new HttpError(
        401,
        'unauthorized',
        keys.length ? 'send Authorization: Bearer <one of API_KEYS>' : 'the API is off: set API_KEYS',
      );
    }
    res.locals.org = match.org;
    next();
  };
}
