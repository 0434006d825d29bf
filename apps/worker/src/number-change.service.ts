import { moveContactToNewId, type Db, type InboundBatchInput } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { changedIdOf } from '@zapflow/whatsapp';

/**
 * When a message is WhatsApp's notice that a contact changed number (or business-scoped id),
 * moves the contact to the new id before the notice is stored, and returns the notice as it
 * should be stored: under the id the contact now has, so it lands in their conversation, and
 * their next message, even one in the same batch, continues it. Any other message is returned
 * as it is. Handled again, the move finds nothing to do and the notice is stored once.
 */
export async function followIdChange(
  deps: { db: Db; logger: Logger },
  input: InboundBatchInput,
): Promise<InboundBatchInput> {
  const toId = changedIdOf({ type: input.type, raw: input.payload }, input.waId);
  if (toId === undefined) return input;
  const outcome = await moveContactToNewId(deps.db, {
    fromId: input.waId,
    toId,
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
  return { ...input, waId: toId };
}
