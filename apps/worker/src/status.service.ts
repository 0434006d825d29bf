import { UnrecoverableError } from 'bullmq';
import {
  applyDeliveryStatus,
  DELIVERY_STATUSES,
  getInboxEvent,
  markInboxProcessed,
  moveToManualQueue,
  requeueFailedDelivery,
  type Db,
  type DeliveryStatus,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import type { Producer, sendQueue } from '@zapflow/queue-contracts';
import { isRetryableMetaCode, StoredStatusUpdate } from '@zapflow/whatsapp';

export interface StatusDeps {
  db: Db;
  send: Producer<typeof sendQueue.schema>;
  logger: Logger;
}

/** Sends of one message that Meta may report `failed` and we try again, before a person decides. */
const MAX_SENDS_AFTER_FAILED_STATUS = 3;

/** Thrown while no outbound message carries the wamid yet (the status raced our own write). */
export class StatusTargetNotFound extends Error {
  override name = 'StatusTargetNotFound';
}

/**
 * Applies a delivery status (sent, delivered, read, played, failed) to the outbound message it
 * names. Statuses only move a message forward; a repeated or late one changes nothing.
 */
export async function handleStatus(deps: StatusDeps, inboxEventId: string): Promise<void> {
  const event = await getInboxEvent(deps.db, inboxEventId);
  if (!event) throw new UnrecoverableError(`inbox event ${inboxEventId} does not exist`);
  if (event.processedAt) return;
  const parsed = StoredStatusUpdate.safeParse(event.payload);
  if (!parsed.success) throw new UnrecoverableError(`inbox event ${inboxEventId} holds no readable status`);
  const s = parsed.data;
  const log = deps.logger.child({ inboxEventId, providerMessageId: s.wamid, status: s.status });

  if (!(DELIVERY_STATUSES as readonly string[]).includes(s.status)) {
    log.info('status not tracked; recorded only');
    await markInboxProcessed(deps.db, inboxEventId);
    return;
  }
  const channel = await deps.db.channel.findUnique({
    where: { provider_externalId: { provider: event.provider, externalId: s.phoneNumberId } },
  });
  const firstError = s.errors[0];
  const applied =
    channel !== null &&
    (await applyDeliveryStatus(deps.db, {
      channelId: channel.id,
      providerMessageId: s.wamid,
      status: s.status as DeliveryStatus,
      at: s.timestamp,
      error: firstError
        ? { code: String(firstError.code), message: [firstError.title, firstError.details].filter(Boolean).join(': ') }
        : undefined,
    }));
  if (!applied) {
    // Meta can report `sent` before our worker has stored the wamid it got back; retrying a few
    // times covers that. After the last attempt the event stays in the inbox, unprocessed.
    throw new StatusTargetNotFound(`no outbound message with id ${s.wamid} (yet)`);
  }
  if (s.status === 'failed' && channel) await afterFailedDelivery(deps, channel.id, s.wamid, firstError?.code, log);
  await markInboxProcessed(deps.db, inboxEventId);
  log.debug('status applied');
}

/**
 * Meta accepted a message, then reported it `failed`. A passing reason (its retryable codes) puts
 * it back in the outbox for another send, a few times; anything else, or too many tries, puts it
 * in the manual queue with the reason. Never silence.
 */
async function afterFailedDelivery(
  deps: StatusDeps,
  channelId: string,
  wamid: string,
  code: number | undefined,
  log: Logger,
): Promise<void> {
  const message = await deps.db.message.findUnique({
    where: { channelId_providerMessageId: { channelId, providerMessageId: wamid } },
  });
  if (!message || message.status !== 'failed') return;
  if (code !== undefined && isRetryableMetaCode(code) && message.sendAttempts < MAX_SENDS_AFTER_FAILED_STATUS) {
    if (await requeueFailedDelivery(deps.db, message.id)) {
      await deps.send.addAgain({ messageId: message.id });
      log.warn('delivery failed for a passing reason; sending again', { messageId: message.id, errorCode: code });
    }
    return;
  }
  await moveToManualQueue(deps.db, message.id, {
    code: message.errorCode ?? String(code ?? 'failed'),
    message: message.errorMessage ?? 'the provider reported the message failed',
  });
  log.warn('delivery failed; message put in the manual queue', { messageId: message.id, errorCode: code });
}
