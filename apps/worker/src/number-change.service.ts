import { moveContactToNewId, type Db, type InboundBatchInput } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { idChangeOf, isBusinessScopedUserId } from '@zapflow/whatsapp';

/**
 * When a message is WhatsApp's notice that a contact changed number (or business-scoped id),
 * moves the contact to the new ids before the notice is stored, and returns the notice as it
 * should be stored: under the ids the contact now has, so it lands in their conversation, and
 * their next message, even one in the same batch, continues it. Any other message, and a notice
 * whose new id has a contact of its own, is returned as it is (the same object). Handled again,
 * the move finds nothing to do and the notice is stored once.
 */
export async function followIdChange(
  deps: { db: Db; logger: Logger },
  input: InboundBatchInput,
): Promise<InboundBatchInput> {
  const change = idChangeOf({ type: input.type, raw: input.payload });
  if (change === undefined) return input;
  const { outcome, ids } = await moveContactToNewId(deps.db, {
    fromId: input.waId,
    fromUserId: input.userId,
    change,
    noticeSentAt: input.waTimestamp,
  });
  const logIds = { inboxEventId: input.inboxEventId, providerMessageId: input.providerMessageId };
  if (outcome === 'taken') {
    deps.logger.warn(
      'contact changed number or BSUID, but the new one already has conversations of its own; both are kept apart, merge them by hand if wanted',
      logIds,
    );
    return input;
  }
  if (ids) {
    deps.logger.info('contact changed number or BSUID; their conversations follow them', logIds);
    return { ...input, waId: ids.waId, userId: ids.userId ?? undefined };
  }
  // Nobody to move (the notice is handled again, or is the user's first word here): stored under
  // what the user goes by now. Never with the BSUID the notice came with (`from_user_id`), the
  // old one: recorded over the new, a message under the new one alone would not find them.
  const waId = change.numberChanged
    ? (change.newWaId ?? change.newUserId!)
    : isBusinessScopedUserId(input.waId)
      ? change.newUserId!
      : input.waId;
  return { ...input, waId, userId: change.newUserId };
}
