import { SystemMessage } from './notification.schema';

/**
 * The number a contact changed to, from a stored message's raw form: set only for Meta's
 * `user_changed_number` notice (`system.wa_id` holds the new number, `from` the old one), else
 * undefined. `user_changed_user_id` (only the business-scoped id changed) carries no number.
 */
export function changedNumberOf(message: { type: string; raw: unknown }): string | undefined {
  if (message.type !== 'system') return undefined;
  const parsed = SystemMessage.shape.system.safeParse((message.raw as { system?: unknown } | null)?.system);
  if (!parsed.success || parsed.data.type !== 'user_changed_number') return undefined;
  const to = parsed.data.wa_id?.trim();
  return to ? to : undefined;
}
