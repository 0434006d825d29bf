import { UnrecoverableError } from 'bullmq';
import {
  claimForSending,
  discardOutbound,
  getOutboundForSend,
  markSendAsTemplate,
  markSendRetrying,
  markSent,
  type Db,
  type OutboundForSend,
} from '@zapflow/db';
import { errorFields, type Logger } from '@zapflow/logger';
import { SendError, type OutgoingContent, type WhatsAppSender } from '@zapflow/whatsapp';
import { contentOf, windowTemplateOf } from '@zapflow/whatsapp';
import type { FallbackChain } from './fallback-chain';
import type { SendLimits } from './send-limits';
import type { SentMarkers, SentNote } from './sent-markers';

/** How soon a message waiting for an earlier one of its conversation looks again... */
const WAIT_FOR_EARLIER_MS = 200;
/** ...or, when the earlier one waits out a retry delay (minutes), how seldom. */
const WAIT_FOR_RETRYING_MS = 5000;

/** Meta: the contact is outside the 24-hour customer-service window. */
const OUTSIDE_WINDOW_CODE = '131047';

/** A provider to send through and the channel (business number or instance) it sends from. */
export interface Route {
  sender: WhatsAppSender;
  /** The alternate's own channel; unset for the primary, which sends from the conversation's. */
  channel?: { id: string; externalId: string } | undefined;
}

export interface SendDeps {
  db: Db;
  sender: WhatsAppSender;
  /** The alternate provider of the fallback chain, when one is configured. */
  alternate?: (() => Promise<Route>) | undefined;
  limits: SendLimits;
  fallback: FallbackChain;
  logger: Logger;
  /**
   * How long an attempt owns a message it marked `sending`: longer than the provider's timeout,
   * so a second attempt never sends while the first may still be waiting for its answer.
   */
  sendLeaseMs: number;
  /** WhatsApp's customer-service window (`CUSTOMER_SERVICE_WINDOW_MS`). */
  windowMs: number;
  /** What the provider accepted, noted before the database records it. */
  sent?: SentMarkers | undefined;
  /** Runs these messages' send jobs now if they are waiting out a delay (the next of a conversation). */
  wake?: ((messageIds: string[]) => Promise<void>) | undefined;
}

export type SendOutcome =
  | { providerMessageId: string }
  /** Not now: an earlier message, a limit or a delayed send; spends no attempt. */
  | { waitMs: number }
  /** A new job was queued for the message (its fallback chain's last retry); this one ends. */
  | { handedOver: true }
  | null;

/**
 * Sends one outbound message and records the provider's id. A message already past `sending` is
 * never sent again. Retryable failures are thrown for the queue's backoff (the message goes back
 * to `queued` with the error); a failure for good walks the fallback chain. Outside the 24-hour
 * window a message goes as its template equivalent, or to the manual queue.
 */
export async function sendOutbound(
  deps: SendDeps,
  messageId: string,
  { isLastAttempt }: { isLastAttempt: boolean },
): Promise<SendOutcome> {
  const message = await getOutboundForSend(deps.db, messageId);
  if (!message) throw new UnrecoverableError(`outbound message ${messageId} does not exist`);
  const log = deps.logger.child({ messageId, conversationId: message.conversationId });
  if (message.status !== 'queued' && message.status !== 'sending') {
    log.info('message already sent or settled; nothing to do', { status: message.status });
    return null;
  }
  // An earlier attempt got it out but could not record it (the database was down, or the worker
  // died): record it now, never send it twice.
  // Only a message that was claimed before can have a note: spare the first attempt the read.
  const sentBefore = message.sendAttempts > 0 ? await deps.sent?.find(messageId) : undefined;
  // A note of a send already recorded is stale (the message is being sent again on purpose:
  // a failed delivery, a resend from the manual queue): it must not stop the new send.
  if (sentBefore && sentBefore.providerMessageId !== message.providerMessageId) {
    if (message.status === 'queued') await claimForSending(deps.db, messageId, 0);
    await recordSent(deps, messageId, sentBefore, log);
    log.warn('message was sent by an earlier attempt that could not record it; recorded now', {
      providerMessageId: sentBefore.providerMessageId,
    });
    return { providerMessageId: sentBefore.providerMessageId };
  }
  // A conversation's messages go out in the order they were written.
  if (message.earlier !== 'none') {
    return { waitMs: message.earlier === 'retrying' ? WAIT_FOR_RETRYING_MS : WAIT_FOR_EARLIER_MS };
  }
  if (message.sendAfter && message.sendAfter.getTime() > Date.now()) {
    return { waitMs: message.sendAfter.getTime() - Date.now() };
  }
  if (!message.turnId && message.conversation.contact.optedOutAt) {
    // A bot turn's reply to "stop" confirms the opt-out and goes; nothing else does.
    await discardOutbound(deps.db, messageId, { code: 'opted_out', message: 'the contact opted out of messages' });
    log.info('contact opted out; message discarded');
    return null;
  }

  let content = contentOf(message);
  const windowTemplate = windowTemplateOf(message);
  const lastInbound = message.conversation.lastInboundAt;
  const outsideWindow = !lastInbound || Date.now() - lastInbound.getTime() > deps.windowMs;
  if (content.type !== 'template' && (outsideWindow || message.sendAsTemplate)) {
    if (!windowTemplate) {
      // Meta refuses free-form messages outside the window (131047).
      await deps.fallback.toManualQueue(message, {
        code: 'outside_24h_window',
        message:
          'the contact has not written within the customer-service window and the message has no template equivalent; send a template or reach them another way',
      });
      log.warn('outside the 24-hour window with no template equivalent; message put in the manual queue');
      return null;
    }
    content = { type: 'template', template: windowTemplate };
  }

  if (message.status === 'sending') {
    const leaseLeft = message.updatedAt.getTime() + deps.sendLeaseMs - Date.now();
    if (leaseLeft > 0) return { waitMs: leaseLeft };
  }
  const route: Route =
    message.fallbackStage === 'alternate' && deps.alternate ? await deps.alternate() : { sender: deps.sender };
  const from = route.channel?.externalId ?? message.channel.externalId;
  // Over a limit the message waits; it does not fail and spends no attempt.
  const waitMs = await deps.limits.admit({
    provider: route.sender.provider,
    channelExternalId: from,
    recipient: message.conversation.contact.waId,
  });
  if (waitMs > 0) return { waitMs };
  if (!(await claimForSending(deps.db, messageId, deps.sendLeaseMs))) {
    log.info('message already sent or failed; nothing to do', { status: message.status });
    return null;
  }

  let providerMessageId: string;
  try {
    ({ providerMessageId } = await route.sender.send({
      channelExternalId: from,
      to: message.conversation.contact.waId,
      content,
    }));
  } catch (error) {
    const failure =
      error instanceof SendError ? error : new SendError((error as Error).message ?? String(error), 'internal', true);
    return afterFailure(deps, message, { failure, content, windowTemplate, isLastAttempt, route }, log);
  }
  // The provider has the message: from here on, never send it again. The note comes first (one
  // Redis write); recording the wamid is retried in place, and if the database stays down the
  // row is left `sending`, and the next attempt records it from the note.
  const how: SentNote = { providerMessageId, viaChannelId: route.channel?.id, asTemplate: content.type === 'template' };
  await deps.sent
    ?.note(messageId, how)
    .catch((error: unknown) =>
      log.warn('could not note the send in Redis; recording it in the database', errorFields(error)),
    );
  const next = await recordSent(deps, messageId, how, log);
  await deps.sent?.forget(messageId).catch(() => undefined); // recorded: the note has served
  log.info('message sent', {
    providerMessageId,
    provider: route.sender.provider,
    type: content.type,
    ...(message.fallbackStage && { fallbackStage: message.fallbackStage }),
  });
  // The conversation's next message polls for this one; tell it now instead.
  if (deps.wake && next.length > 0) {
    try {
      await deps.wake(next);
    } catch (error) {
      log.debug('could not wake the next message; it will look again shortly', errorFields(error));
    }
  }
  return { providerMessageId };
}

async function afterFailure(
  deps: SendDeps,
  message: OutboundForSend,
  {
    failure,
    content,
    windowTemplate,
    isLastAttempt,
    route,
  }: {
    failure: SendError;
    content: OutgoingContent;
    windowTemplate: ReturnType<typeof windowTemplateOf>;
    isLastAttempt: boolean;
    route: Route;
  },
  log: Logger,
): Promise<SendOutcome> {
  const reason = { code: failure.code, message: failure.message };
  const fields = { errorCode: failure.code, error: failure.message, provider: route.sender.provider };
  if (failure.code === '130429' && !route.channel) {
    // The number is over its throughput: pause every send from it, and this one waits like a
    // rate-limited message (no attempt spent).
    await markSendRetrying(deps.db, message.id, reason);
    const waitMs = await deps.limits.backOffNumber(message.channel.externalId);
    log.warn('business number over its throughput (130429): pausing its sends', { waitMs, ...fields });
    return { waitMs };
  }
  if (failure.code === OUTSIDE_WINDOW_CODE && content.type !== 'template' && windowTemplate) {
    // Meta's clock says the window closed (ours may lag): send the template equivalent now.
    await markSendAsTemplate(deps.db, message.id, reason);
    log.warn('outside the 24-hour window (131047); sending the template equivalent', fields);
    return { waitMs: 0 };
  }
  // The alternate provider and the last retry are one try each: no backoff schedule of their own.
  if (failure.retryable && !isLastAttempt && !message.fallbackStage) {
    await markSendRetrying(deps.db, message.id, reason);
    log.warn('send failed; will retry', fields);
    throw failure;
  }
  const next = await deps.fallback.next(message, failure);
  log.warn(`send failed for good; fallback: ${next}`, { ...fields, retryable: failure.retryable });
  if (next === 'alternate') return { waitMs: 0 };
  if (next === 'requeued') return { handedOver: true };
  throw new UnrecoverableError(`send of ${message.id} failed: ${failure.code} ${failure.message}`);
}

/** Records the send (retrying in place), and returns the conversation's next messages to wake. */
async function recordSent(deps: SendDeps, messageId: string, how: SentNote, log: Logger): Promise<string[]> {
  const { providerMessageId } = how;
  for (let attempt = 1; ; attempt++) {
    try {
      return await markSent(deps.db, messageId, providerMessageId, how);
    } catch (error) {
      if (attempt >= 5) {
        log.error('message sent but not recorded yet; a later attempt records it from its Redis note', {
          providerMessageId,
          ...errorFields(error),
        });
        // Retried by the queue (or re-queued by the sweeper): that attempt finds the note.
        throw new Error(`message ${messageId} was sent as ${providerMessageId} but not recorded yet`);
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}
