import { moveContactToNumber, type Db, type InboundBatchInput, type StoredInbound } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { changedNumberOf } from '@zapflow/whatsapp';

/**
 * Follows a contact to their new number when a stored message is WhatsApp's notice that they
 * changed it, so the next message from the new number continues the same conversation. Runs on
 * every attempt, not only when the notice is new: an attempt that died after storing it must
 * still move the contact, and moving is idempotent (`moveContactToNumber`).
 */
export async function followNumberChange(
  deps: { db: Db; logger: Logger },
  input: Pick<InboundBatchInput, 'type' | 'payload' | 'waId' | 'inboxEventId'>,
  stored: StoredInbound,
): Promise<void> {
  const toWaId = changedNumberOf({ type: input.type, raw: input.payload });
  if (toWaId === undefined || toWaId === input.waId) return;
  const outcome = await moveContactToNumber(deps.db, {
    conversationId: stored.conversationId,
    fromWaId: input.waId,
    toWaId,
  });
  const ids = { inboxEventId: input.inboxEventId, messageId: stored.messageId, conversationId: stored.conversationId };
  if (outcome === 'moved') deps.logger.info('contact changed number; their conversations follow them', ids);
  else if (outcome === 'taken') {
    deps.logger.warn(
      'contact changed number, but the new number already has conversations of its own; both are kept apart, merge them by hand if wanted',
      ids,
    );
  }
}
