import { moveContactToNewId, type Db, type InboundBatchInput } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { changedIdOf, isBusinessScopedUserId, newUserIdOf } from '@zapflow/whatsapp';

/**
 * When a message is WhatsApp's notice that a contact changed number (or business-scoped id),
 * moves the contact to the new id before the notice is stored, and returns the notice as it
 * should be stored: under the id the contact now has, so it lands in their conversation, and
 * their next message, even one in the same batch, continues it, with the new BSUID (the notice's
 * own is the old one). Any other message is returned
 * as it is. Handled again, the move finds nothing to do and the notice is stored once.
 */
export async function followIdChange(
  deps: { db: Db; logger: Logger },
  input: InboundBatchInput,
): Promise<InboundBatchInput> {
  const notice = { type: input.type, raw: input.payload };
  const toId = changedIdOf(notice, input.waId);
  if (toId === undefined) return input;
  // With a new number comes a new BSUID; a contact known by its BSUID has the new one as its id.
  const toUserId = isBusinessScopedUserId(toId) ? toId : newUserIdOf(notice);
  const outcome = await moveContactToNewId(deps.db, {
    fromId: input.waId,
    toId,
    toUserId,
    noticeSentAt: input.waTimestamp,
  });
  const ids = { inboxEventId: input.inboxEventId, providerMessageId: input.providerMessageId };
  if (outcome === 'moved') deps.logger.info('contact changed number; their conversations follow them', ids);
  if (outcome === 'taken') {
    deps.logger.warn(
      'contact changed number, but the new number already has conversations of its own; both are kept apart, merge them by hand if wanted',
      ids,
    );
    return input;
  }
  // Not the BSUID the notice came with (`from_user_id`), which is the old one: stored with it,
  // the notice would record it on the contact over the new one, and a message under the new
  // BSUID alone would no longer find them.
  return { ...input, waId: toId, userId: toUserId };
}
