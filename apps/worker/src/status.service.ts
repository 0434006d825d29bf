import { UnrecoverableError } from 'bullmq';
import {
  applyDeliveryStatus,
  DELIVERY_STATUSES,
  getInboxEvent,
  markInboxProcessed,
  requeueFailedDelivery,
  type Db,
  type DeliveryStatus,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import type { Producer, sendQueue } from '@zapflow/queue-contracts';
import { isRetryableMetaCode, SendError, StoredStatusUpdate } from '@zapflow/whatsapp';
import type { FallbackChain } from './fallback-chain';

export interface StatusDeps {
  db: Db;
  send: Producer<typeof sendQueue.schema>;
  fallback: FallbackChain;
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
  if (s.status === 'failed' && channel) await afterFailedDelivery(deps, channel.id, s.wamid, firstError, log);
  await markInboxProcessed(deps.db, inboxEventId);
  log.debug('status applied');
}

/**
 * Meta accepted a message, then reported it `failed`. A passing reason (its retryable codes) puts
 * it back in the outbox for another send, a few times; anything else, or too many tries, walks
 * the fallback chain (template equivalent, alternate provider, manual queue). Never silence.
 */
async function afterFailedDelivery(
  deps: StatusDeps,
  channelId: string,
  wamid: string,
  error: StoredStatusUpdate['errors'][number] | undefined,
  log: Logger,
): Promise<void> {
  const message = await deps.db.message.findFirst({
    where: { providerMessageId: wamid, OR: [{ channelId }, { viaChannelId: channelId }] },
  });
  if (!message || message.status !== 'failed') return;
  const code = error?.code;
  const retryable = code !== undefined && isRetryableMetaCode(code);
  if (retryable && message.sendAttempts < MAX_SENDS_AFTER_FAILED_STATUS) {
    if (await requeueFailedDelivery(deps.db, message.id)) {
      await deps.send.addAgain({ messageId: message.id });
      log.warn('delivery failed for a passing reason; sending again', { messageId: message.id, errorCode: code });
    }
    return;
  }
  const failure = new SendError(
    message.errorMessage ?? 'the provider reported the message failed',
    message.errorCode ?? String(code ?? 'failed'),
    retryable,
  );
  const step = await deps.fallback.next(message, failure, { deliveryFailed: true });
  // The chain queued its own last retry; the other ways to send need a job.
  if (step === 'template' || step === 'alternate') await deps.send.addAgain({ messageId: message.id });
  log.warn(`delivery failed; fallback: ${step}`, { messageId: message.id, errorCode: code });
}
