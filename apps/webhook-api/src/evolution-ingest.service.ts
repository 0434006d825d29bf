import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@zapflow/logger';
import type { NewInboxEvent } from '@zapflow/db';
import {
  evolutionApiKeyOf,
  extractEvolutionEvents,
  type EvolutionHeaders,
  type EvolutionInbound,
  type EvolutionStatus,
  type StoredInboundMessage,
  type StoredStatusUpdate,
} from '@zapflow/whatsapp';
import { recordAndQueue, type InboxWriter } from './inbox-writer';
import type { ApiMetrics } from './metrics';

const PROVIDER = 'evolution';

/**
 * The error code a `failed` status from Evolution carries. Evolution gives no reason, and 0 is
 * none of Meta's retryable codes (`isRetryableMetaCode`), so the worker does not send the same
 * message again: it takes the failure path that ends in the manual queue, where a person decides.
 */
export const EVOLUTION_FAILED_CODE = 0;

export interface EvolutionIngestDeps {
  writer: InboxWriter;
  metrics: ApiMetrics;
  logger: Logger;
}

export interface EvolutionIngestOutcome {
  new: number;
  duplicates: number;
  /** Events, messages and statuses not recorded: other events, groups, status posts, unreadable content. */
  ignored: number;
}

/**
 * Whether a delivery carries the configured key (`apikey` header, else the body's `apikey`),
 * compared without leaking through timing how much of it matched. Nothing is accepted while no
 * key is configured.
 */
export function isAuthenticEvolutionDelivery(
  expectedKey: string | undefined,
  body: unknown,
  headers: EvolutionHeaders,
): boolean {
  const given = evolutionApiKeyOf(body, headers);
  if (!expectedKey || given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expectedKey));
}

/**
 * The Evolution webhook's work once the key and JSON are known good, as for the Cloud API's:
 * record every message and delivery status in the durable inbox (the commit point), then queue
 * the new ones. A failure to queue is not a failure to accept: the row is there and the sweeper
 * will queue it.
 */
export async function ingestEvolutionWebhook(
  deps: EvolutionIngestDeps,
  body: unknown,
): Promise<EvolutionIngestOutcome> {
  const { messages, statuses, ignored } = extractEvolutionEvents(body);
  const events: NewInboxEvent[] = [
    ...messages.map((m): NewInboxEvent => ({
      provider: PROVIDER,
      kind: 'message',
      // The instance is the business number's identity on the Evolution server.
      channelKey: m.instance,
      dedupeKey: m.wamid,
      sender: m.waId,
      payload: toStoredMessage(m),
    })),
    ...statuses.map((s): NewInboxEvent => ({
      provider: PROVIDER,
      kind: 'status',
      channelKey: s.instance,
      // One row per (message, status), as for the Cloud API: Evolution repeats a status, and a
      // message gets several.
      dedupeKey: `${s.wamid}|${s.status}`,
      payload: toStoredStatus(s),
    })),
  ];

  const unrecognized = ignored.filter((i) => i.unrecognized);
  if (unrecognized.length) {
    deps.metrics.webhookUnrecognized.inc({ provider: PROVIDER }, unrecognized.length);
    deps.logger.warn('evolution webhook content not understood; answered 200 so it is not retried', {
      reasons: unrecognized.slice(0, 5).map((u) => u.reason),
      count: unrecognized.length,
    });
  }
  const skipped = ignored.length - unrecognized.length;
  if (skipped) {
    deps.logger.debug('evolution webhook events not handled, ignored', {
      reasons: ignored
        .filter((i) => !i.unrecognized)
        .slice(0, 5)
        .map((i) => i.reason),
      count: skipped,
    });
  }

  const outcome = await recordAndQueue(deps, PROVIDER, events);
  return { ...outcome, ignored: ignored.length };
}

/** The shape the worker reads back (`StoredInboundMessage`); the instance stands for the business number. */
function toStoredMessage(m: EvolutionInbound): StoredInboundMessage {
  return {
    phoneNumberId: m.instance,
    waId: m.waId,
    ...(m.profileName !== undefined && { profileName: m.profileName }),
    wamid: m.wamid,
    type: m.type,
    timestamp: m.timestamp,
    text: m.text,
    raw: m.raw,
    fromMe: m.fromMe,
  };
}

/** The shape the worker reads back (`StoredStatusUpdate`), with the instance as the business number. */
function toStoredStatus(s: EvolutionStatus): StoredStatusUpdate {
  return {
    phoneNumberId: s.instance,
    wamid: s.wamid,
    status: s.status,
    timestamp: s.timestamp,
    recipientId: s.waId,
    errors:
      s.status === 'failed' ? [{ code: EVOLUTION_FAILED_CODE, title: `Evolution reported ${s.providerStatus}` }] : [],
  };
}
