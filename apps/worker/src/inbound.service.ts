import { UnrecoverableError } from 'bullmq';
import {
  commitTurn,
  getInboxEvent,
  markInboxProcessed,
  recentMessages,
  repliesTo,
  storeInboundMessage,
  type Db,
} from '@zapflow/db';
import type { Idempotency } from '@zapflow/idempotency';
import type { Logger } from '@zapflow/logger';
import type { Producer, sendQueue } from '@zapflow/queue-contracts';
import { StoredInboundMessage } from '@zapflow/whatsapp';
import type { ConversationEngine } from './conversation/engine';

export interface InboundDeps {
  db: Db;
  idempotency: Idempotency;
  engine: ConversationEngine;
  send: Producer<typeof sendQueue.schema>;
  logger: Logger;
}

export interface InboundOutcome {
  messageId: string;
  conversationId: string;
  outcome: 'answered' | 'already_answered' | 'not_for_bot';
  replyIds: string[];
}

/** Thrown when another worker holds the same inbox event right now; the job is retried later. */
export class InboxEventBusy extends Error {
  override name = 'InboxEventBusy';
}

/**
 * Turns one recorded inbound message into a reply: store it (contact, conversation, message),
 * ask the engine, store the reply as outbound messages and queue their sends. Every step can be
 * repeated after a crash: the stored rows say how far the last attempt got, so a message is
 * answered once however often this runs.
 */
export async function handleInboundMessage(deps: InboundDeps, inboxEventId: string): Promise<InboundOutcome | null> {
  const event = await getInboxEvent(deps.db, inboxEventId);
  if (!event) throw new UnrecoverableError(`inbox event ${inboxEventId} does not exist`);
  if (event.processedAt) return null;

  // Redis keeps two workers off the same event (a stalled job can run twice); the database
  // constraints below are what guarantee a single reply even if Redis forgets.
  const claim = await deps.idempotency.claim<InboundOutcome>(`inbox-${inboxEventId}`);
  if (claim.state === 'done') return claim.result;
  if (claim.state === 'in_progress') throw new InboxEventBusy(`inbox event ${inboxEventId} is being handled elsewhere`);
  try {
    const outcome = await answer(deps, inboxEventId, event.provider, event.payload);
    await markInboxProcessed(deps.db, inboxEventId);
    await deps.idempotency.complete(`inbox-${inboxEventId}`, claim.token, outcome);
    return outcome;
  } catch (error) {
    await deps.idempotency.release(`inbox-${inboxEventId}`, claim.token);
    throw error;
  }
}

async function answer(
  deps: InboundDeps,
  inboxEventId: string,
  provider: string,
  payload: unknown,
): Promise<InboundOutcome> {
  const parsed = StoredInboundMessage.safeParse(payload);
  if (!parsed.success) {
    throw new UnrecoverableError(`inbox event ${inboxEventId} holds no readable message: ${parsed.error.message}`);
  }
  const m = parsed.data;
  const { conversation, contact, message } = await storeInboundMessage(deps.db, {
    provider,
    channelExternalId: m.phoneNumberId,
    displayPhoneNumber: m.displayPhoneNumber,
    waId: m.waId,
    profileName: m.profileName,
    providerMessageId: m.wamid,
    type: m.type,
    body: m.text,
    payload: m.raw,
    waTimestamp: m.timestamp,
  });
  const ids = { messageId: message.id, conversationId: conversation.id };
  const log = deps.logger.child({ ...ids, inboxEventId });

  let replies = await repliesTo(deps.db, message.id);
  let answeredNow = false;
  if (replies) {
    log.info('message already answered; making sure its reply is queued');
  } else if (conversation.state !== 'bot') {
    log.info('conversation is with a human; message stored, bot stays silent', { state: conversation.state });
    return { ...ids, outcome: 'not_for_bot', replyIds: [] };
  } else {
    const history = await recentMessages(deps.db, conversation.id);
    const started = Date.now();
    const reply = await deps.engine.reply({
      contact: { name: contact.profileName, waId: contact.waId },
      messages: [{ type: message.type, text: message.body }],
      history: history
        .filter((h) => h.id !== message.id)
        .map((h) => ({ direction: h.direction as 'inbound' | 'outbound', text: h.body })),
    });
    const committed = await commitTurn(deps.db, {
      conversationId: conversation.id,
      channelId: message.channelId,
      inputMessageIds: [message.id],
      input: [{ messageId: message.id, type: message.type, text: message.body }],
      result: { ...reply, latencyMs: Date.now() - started },
    });
    answeredNow = committed !== null;
    if (committed) {
      log.info('turn done', { turnId: committed.turn.id, engine: reply.engine, replies: committed.outbound.length });
    }
    // Null means another attempt committed first; its reply is the one we queue.
    replies = committed ? committed.outbound : await repliesTo(deps.db, message.id);
  }

  const pending = (replies ?? []).filter((r) => r.status === 'queued' || r.status === 'sending');
  await deps.send.addBulk(pending.map((r) => ({ messageId: r.id })));
  return {
    ...ids,
    outcome: answeredNow ? 'answered' : 'already_answered',
    replyIds: (replies ?? []).map((r) => r.id),
  };
}
