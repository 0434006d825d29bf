import { UnrecoverableError } from 'bullmq';
import {
  claimForSending,
  getOutboundForSend,
  earlierUnsent,
  moveToManualQueue,
  markSendRetrying,
  markSent,
  type Db,
} from '@zapflow/db';
import { errorFields, type Logger } from '@zapflow/logger';
import { SendError, type WhatsAppSender } from '@zapflow/whatsapp';
import type { SendLimits } from './send-limits';

/** How soon a message waiting for an earlier one of its conversation looks again... */
const WAIT_FOR_EARLIER_MS = 200;
/** ...or, when the earlier one waits out a retry delay (minutes), how seldom. */
const WAIT_FOR_RETRYING_MS = 5000;

export interface SendDeps {
  db: Db;
  sender: WhatsAppSender;
  limits: SendLimits;
  logger: Logger;
  /**
   * How long an attempt owns a message it marked `sending`: longer than the provider's timeout,
   * so a second attempt never sends while the first may still be waiting for its answer.
   */
  sendLeaseMs: number;
  /** WhatsApp's customer-service window (`CUSTOMER_SERVICE_WINDOW_MS`). */
  windowMs: number;
}

/**
 * Sends one outbound message and records the provider's id. A message already past `sending` is
 * never sent again. Retryable failures are thrown for the queue's backoff (the message goes back
 * to `queued` with the error); the rest, the last retry, and a message outside the 24-hour
 * window go to the manual queue with the reason.
 */
export async function sendOutbound(
  deps: SendDeps,
  messageId: string,
  { isLastAttempt }: { isLastAttempt: boolean },
): Promise<{ providerMessageId: string } | { waitMs: number } | null> {
  const message = await getOutboundForSend(deps.db, messageId);
  if (!message) throw new UnrecoverableError(`outbound message ${messageId} does not exist`);
  const log = deps.logger.child({ messageId, conversationId: message.conversationId });
  // A conversation's messages go out in the order they were written.
  const earlier = await earlierUnsent(deps.db, messageId);
  if (earlier !== 'none') return { waitMs: earlier === 'retrying' ? WAIT_FOR_RETRYING_MS : WAIT_FOR_EARLIER_MS };
  const lastInbound = message.conversation.lastInboundAt;
  if (message.status === 'queued' && (!lastInbound || Date.now() - lastInbound.getTime() > deps.windowMs)) {
    // Meta refuses free-form messages outside the window (131047); templates are for later.
    await moveToManualQueue(deps.db, messageId, {
      code: 'outside_24h_window',
      message:
        'the contact has not written within the customer-service window; send a template or reach them another way',
    });
    log.warn('outside the 24-hour window; message put in the manual queue');
    return null;
  }
  if (message.status === 'sending') {
    const leaseLeft = message.updatedAt.getTime() + deps.sendLeaseMs - Date.now();
    if (leaseLeft > 0) return { waitMs: leaseLeft };
  }
  if (message.status === 'queued' || message.status === 'sending') {
    // Over a limit the message waits; it does not fail and spends no attempt.
    const waitMs = await deps.limits.admit({
      channelExternalId: message.channel.externalId,
      recipient: message.conversation.contact.waId,
    });
    if (waitMs > 0) return { waitMs };
  }
  if (!(await claimForSending(deps.db, messageId, deps.sendLeaseMs))) {
    log.info('message already sent or failed; nothing to do', { status: message.status });
    return null;
  }
  let providerMessageId: string;
  try {
    ({ providerMessageId } = await deps.sender.send({
      channelExternalId: message.channel.externalId,
      to: message.conversation.contact.waId,
      type: 'text',
      body: message.body ?? '',
    }));
  } catch (error) {
    const failure =
      error instanceof SendError ? error : new SendError((error as Error).message ?? String(error), 'internal', true);
    const reason = { code: failure.code, message: failure.message };
    if (failure.code === '130429') {
      // The number is over its throughput: pause every send from it, and this one waits like a
      // rate-limited message (no attempt spent).
      await markSendRetrying(deps.db, messageId, reason);
      const waitMs = await deps.limits.backOffNumber(message.channel.externalId);
      log.warn('business number over its throughput (130429): pausing its sends', { waitMs });
      return { waitMs };
    }
    if (failure.retryable && !isLastAttempt) {
      await markSendRetrying(deps.db, messageId, reason);
      log.warn('send failed; will retry', { errorCode: failure.code, error: failure.message });
      throw failure;
    }
    await moveToManualQueue(deps.db, messageId, reason);
    log.error('send failed for good; message put in the manual queue', {
      errorCode: failure.code,
      error: failure.message,
      retryable: failure.retryable,
    });
    throw new UnrecoverableError(`send of ${messageId} failed: ${failure.code} ${failure.message}`);
  }
  // The provider has the message: from here on, never send it again. Recording the wamid is
  // retried in place; if the database stays down, the row is left `sending` (not `queued`).
  await recordSent(deps, messageId, providerMessageId, log);
  log.info('message sent', { providerMessageId, provider: deps.sender.provider });
  return { providerMessageId };
}

async function recordSent(deps: SendDeps, messageId: string, providerMessageId: string, log: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await markSent(deps.db, messageId, providerMessageId);
      return;
    } catch (error) {
      if (attempt >= 5) {
        log.error('message sent but its wamid could not be stored; it will not be sent again', {
          providerMessageId,
          ...errorFields(error),
        });
        throw new UnrecoverableError(`message ${messageId} was sent as ${providerMessageId} but not recorded`);
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}
