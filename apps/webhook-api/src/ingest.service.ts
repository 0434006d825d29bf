import type { Logger } from '@zapflow/logger';
import type { NewInboxEvent } from '@zapflow/db';
import { extractEvents, type SkippedContent } from '@zapflow/whatsapp';
import { recordAndQueue, type InboxWriter } from './inbox-writer';
import type { ApiMetrics } from './metrics';

export interface IngestDeps {
  /** The durable inbox and its queue, written in batches across concurrent deliveries. */
  writer: InboxWriter;
  metrics: ApiMetrics;
  logger: Logger;
  /** Business numbers this deployment answers for; empty means all. */
  phoneNumberIds: string[];
}

export interface IngestOutcome {
  received: number;
  new: number;
  duplicates: number;
  ignored: number;
  /** Content Meta documents that zapflow does not act on (`SkippedContent`). */
  skipped: number;
  unrecognized: number;
}

/**
 * The webhook's work once the signature and JSON are known good: record every message and status
 * in the durable inbox (the commit point: after this, nothing is lost), then queue the new ones.
 * A failure to queue is not a failure to accept: the row is there and the sweeper will queue it.
 */
export async function ingestCloudNotification(deps: IngestDeps, body: unknown): Promise<IngestOutcome> {
  const { messages, statuses, skipped, unrecognized } = extractEvents(body);
  const allowed = (phoneNumberId: string) =>
    deps.phoneNumberIds.length === 0 || deps.phoneNumberIds.includes(phoneNumberId);

  const events: NewInboxEvent[] = [];
  let ignored = 0;
  for (const m of messages) {
    if (!allowed(m.phoneNumberId)) {
      ignored++;
      continue;
    }
    events.push({
      provider: 'cloud',
      kind: 'message',
      channelKey: m.phoneNumberId,
      dedupeKey: m.wamid,
      sender: m.waId,
      payload: m,
    });
  }
  for (const s of statuses) {
    if (!allowed(s.phoneNumberId)) {
      ignored++;
      continue;
    }
    // One row per (message, status): Meta repeats a status, and a message gets several.
    events.push({
      provider: 'cloud',
      kind: 'status',
      channelKey: s.phoneNumberId,
      dedupeKey: `${s.wamid}|${s.status}`,
      payload: s,
    });
  }
  if (unrecognized.length) {
    deps.metrics.webhookUnrecognized.inc({ provider: 'cloud' }, unrecognized.length);
    deps.logger.warn('webhook content not understood; answered 200 so Meta does not retry it', {
      reasons: unrecognized.slice(0, 5).map((u) => u.reason),
      count: unrecognized.length,
    });
  }
  // Messages and statuses, whether for our numbers or not; skipped content is counted apart.
  const received = events.length + ignored;
  // Another deployment's number's notices are that deployment's to report.
  const ours = skipped.filter((s) => s.phoneNumberId === undefined || allowed(s.phoneNumberId));
  ignored += skipped.length - ours.length;
  if (ours.length) reportSkipped(deps, ours);
  if (ignored) {
    deps.logger.info('webhook events for business numbers outside WHATSAPP_PHONE_NUMBER_IDS ignored', { ignored });
  }

  const outcome = await recordAndQueue(deps, 'cloud', events);
  return {
    received,
    ...outcome,
    ignored,
    skipped: ours.length,
    unrecognized: unrecognized.length,
  };
}

/**
 * Notices from other subscriptions and group messages are expected and worth an info line; a
 * notice about the account or number a warning; an error Meta reports about the account or app
 * an error line, since someone must act.
 */
function reportSkipped(deps: IngestDeps, skipped: SkippedContent[]): void {
  for (const { what } of skipped) deps.metrics.webhookSkipped.inc({ provider: 'cloud', what });
  const messages = {
    error: 'Meta reported errors for the WhatsApp account or app; check it in WhatsApp Manager',
    warn: 'Meta sent a notice about the WhatsApp account or number; acknowledged, not stored',
    info: 'webhook content zapflow does not act on: acknowledged, not stored',
  };
  for (const level of ['error', 'warn', 'info'] as const) {
    const items = skipped.filter((s) => s.level === level);
    if (items.length === 0) continue;
    deps.logger[level](messages[level], { details: items.slice(0, 5).map((s) => s.detail), count: items.length });
  }
}
