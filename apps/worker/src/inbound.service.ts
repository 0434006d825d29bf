import { UnrecoverableError } from 'bullmq';
import {
  getInboxEvent,
  getInboxEvents,
  storeInboundMessage,
  storeInboundMessages,
  type Db,
  type InboundBatchInput,
  type InboxEventRow,
  type StoredInbound,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { idChangeOf, isBusinessScopedUserId, StoredInboundMessage } from '@zapflow/whatsapp';
import { followIdChange } from './number-change.service';
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
  const input = await followIdChange(deps, inboundInput(await getInboxEvent(deps.db, inboxEventId), inboxEventId));
  const stored = await storeInboundMessage(deps.db, input);
  // The business's own messages (sent from its phone, or the echo of ours) are never pending.
  if (stored.pending) await deps.turns.request(stored.conversationId, stored.oldestPendingAt ?? undefined);
  return outcome(deps, inboxEventId, stored);
}

/** What a batch of inbound messages came to: each one's outcome, or why it was not settled. */
export interface InboundBatchResult {
  done: Map<string, InboundOutcome>;
  /** Events that can never succeed (gone, unreadable): each with its error. */
  failed: Map<string, UnrecoverableError>;
  /** Events this batch could not settle: to be handled one at a time. */
  left: string[];
}

/**
 * `handleInboundMessage` for many events at once (a webhook batch): one read, one statement that
 * stores them all, one round trip of turn requests (one per conversation, for its oldest
 * unanswered message). Whatever the batch statement cannot settle is left to the one-at-a-time
 * path; if any step fails (a deadlock with a concurrent batch, the database gone), it throws and
 * the caller handles every message that way. That path is idempotent: an event stored here and
 * handled again there is stored once.
 */
export async function handleInboundBatch(deps: InboundDeps, ids: string[]): Promise<InboundBatchResult> {
  const result: InboundBatchResult = { done: new Map(), failed: new Map(), left: [] };
  const events = new Map((await getInboxEvents(deps.db, ids)).map((e) => [e.id, e]));
  const inputs: InboundBatchInput[] = [];
  for (const id of ids) {
    try {
      inputs.push(inboundInput(events.get(id) ?? null, id));
    } catch (error) {
      result.failed.set(id, error as UnrecoverableError);
    }
  }
  // Before the batch is stored, so that a new number's message in the same batch finds the
  // contact already moved, and the old number's messages of the batch (sent before the change)
  // follow it rather than make a contact of the old number again. Rare (one system notice per
  // number change), so one at a time.
  for (const [i, input] of inputs.entries()) {
    if (input.type !== 'system') continue;
    const followed = await followIdChange(deps, input);
    if (followed === input) continue; // not a change, or the new id has a contact of its own
    inputs[i] = followed;
    // The batch's other messages from ids the user no longer goes by: the old number, the old
    // BSUID (the notice's own, or the previous_user_id it names when sent under the new one).
    const previous = idChangeOf({ type: input.type, raw: input.payload })?.previousUserId;
    const current = new Set([followed.waId, followed.userId]);
    const gone = new Set([input.waId, input.userId, previous].filter((id) => id !== undefined && !current.has(id)));
    for (const [j, other] of inputs.entries()) {
      if (j !== i && (gone.has(other.waId) || (other.userId !== undefined && gone.has(other.userId)))) {
        inputs[j] = { ...other, waId: followed.waId, userId: followed.userId };
      }
    }
  }
  const stored = await storeInboundMessages(deps.db, inputs);
  const oldest = new Map<string, Date | undefined>();
  const settled: [string, StoredInbound][] = [];
  for (const [i, input] of inputs.entries()) {
    const row = stored[i];
    if (!row) {
      result.left.push(input.inboxEventId);
      continue;
    }
    settled.push([input.inboxEventId, row]);
    if (!row.pending) continue;
    oldest.set(row.conversationId, earliest(oldest.get(row.conversationId), row.oldestPendingAt ?? undefined));
  }
  // Stored and marked processed. Should this fail, the caller handles them one at a time, which
  // stores each again (a no-op) and asks for its turn again.
  await deps.turns.requestMany(
    [...oldest].map(([conversationId, oldestPending]) => ({ conversationId, oldestPending })),
  );
  for (const [id, row] of settled) result.done.set(id, outcome(deps, id, row));
  return result;
}

const earliest = (a?: Date, b?: Date) => (a && b ? (a < b ? a : b) : (a ?? b));

/** The stored form of a recorded inbound message, or why it can never be stored. */
function inboundInput(event: InboxEventRow | null, inboxEventId: string): InboundBatchInput {
  if (!event) throw new UnrecoverableError(`inbox event ${inboxEventId} does not exist`);
  const parsed = StoredInboundMessage.safeParse(event.payload);
  if (!parsed.success) {
    throw new UnrecoverableError(`inbox event ${inboxEventId} holds no readable message: ${parsed.error.message}`);
  }
  const m = parsed.data;
  return {
    inboxEventId,
    provider: event.provider,
    channelExternalId: m.phoneNumberId,
    displayPhoneNumber: m.displayPhoneNumber,
    waId: m.waId,
    // Rows recorded by a webhook from before BSUIDs were kept beside the number carry theirs in
    // the raw message only; without it a message under the BSUID alone would start a contact of
    // its own that the number's contact could never find again.
    userId: m.userId ?? bsuidIn(m.raw, m.fromMe ? 'to_user_id' : 'from_user_id'),
    profileName: m.profileName,
    observed: m.observed,
    providerMessageId: m.wamid,
    type: m.type,
    body: m.text,
    payload: m.raw,
    waTimestamp: m.timestamp,
    arrivedAt: event.receivedAt,
    arrivalSeq: event.seq,
    fromMe: m.fromMe,
  };
}

function outcome(deps: InboundDeps, inboxEventId: string, stored: StoredInbound): InboundOutcome {
  deps.logger.debug('inbound message stored', {
    inboxEventId,
    messageId: stored.messageId,
    conversationId: stored.conversationId,
    isNew: stored.isNew,
    turnRequested: stored.pending,
  });
  return { messageId: stored.messageId, conversationId: stored.conversationId, isNew: stored.isNew };
}

/** The BSUID a raw message names in `field`, if it names one. */
function bsuidIn(raw: Record<string, unknown>, field: 'from_user_id' | 'to_user_id'): string | undefined {
  const id = raw[field];
  return typeof id === 'string' && isBusinessScopedUserId(id) ? id : undefined;
}
