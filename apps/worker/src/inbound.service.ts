import { UnrecoverableError } from 'bullmq';
import { getInboxEvent, storeInboundMessage, type Db } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { StoredInboundMessage } from '@zapflow/whatsapp';
import type { TurnScheduler } from './turn-scheduler';

export interface InboundDeps {
  db: Db;
  turns: TurnScheduler;
  logger: Logger;
}

export interface InboundOutcome {
  messageId: string;
  conversationId: string;
  isNew: boolean;
}

/**
 * Turns one recorded inbound message into a stored message of its conversation and asks for a
 * turn. Answering is the turn's job (turn.service.ts), so that a burst becomes one answer and a
 * conversation's messages are answered in order. Running this twice stores the message once and
 * asks for a turn again only while the message is unanswered, which the turn queue's
 * deduplication folds into one. An event already processed is stored again all the same (a no-op):
 * the attempt that processed it may have died before it asked for the turn.
 */
export async function handleInboundMessage(deps: InboundDeps, inboxEventId: string): Promise<InboundOutcome> {
  const event = await getInboxEvent(deps.db, inboxEventId);
  if (!event) throw new UnrecoverableError(`inbox event ${inboxEventId} does not exist`);
  const parsed = StoredInboundMessage.safeParse(event.payload);
  if (!parsed.success) {
    throw new UnrecoverableError(`inbox event ${inboxEventId} holds no readable message: ${parsed.error.message}`);
  }
  const m = parsed.data;
  const stored = await storeInboundMessage(deps.db, {
    inboxEventId,
    provider: event.provider,
    channelExternalId: m.phoneNumberId,
    displayPhoneNumber: m.displayPhoneNumber,
    waId: m.waId,
    profileName: m.profileName,
    providerMessageId: m.wamid,
    type: m.type,
    body: m.text,
    payload: m.raw,
    waTimestamp: m.timestamp,
    arrivedAt: event.receivedAt,
    arrivalSeq: event.seq,
    fromMe: m.fromMe,
  });
  // The business's own messages (sent from its phone, or the echo of ours) are never pending.
  if (stored.pending) await deps.turns.request(stored.conversationId, stored.oldestPendingAt ?? undefined);
  deps.logger.debug('inbound message stored', {
    inboxEventId,
    messageId: stored.messageId,
    conversationId: stored.conversationId,
    isNew: stored.isNew,
    turnRequested: stored.pending,
  });
  return { messageId: stored.messageId, conversationId: stored.conversationId, isNew: stored.isNew };
}
