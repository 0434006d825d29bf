import { isBusinessScopedUserId } from '../cloud-api.payload';
import { SystemMessage } from './notification.schema';

/**
 * The id a contact now goes by, from a stored message's raw form, for a contact known as
 * `currentId`; undefined unless the message is Meta's notice that it changed:
 * - `user_changed_number` (`from` the old number, `system.wa_id` the new one; the older
 *   `customer_changed_number` gives it as `new_wa_id`);
 * - for a contact known by a business-scoped user id (a user who hides their number): that id,
 *   which Meta replaces on a number change (`system.user_id`) and on `user_changed_user_id`.
 */
export function changedIdOf(message: { type: string; raw: unknown }, currentId: string): string | undefined {
  const change = idChangeOf(message);
  if (change === undefined) return undefined;
  const { system, numberChanged } = change;
  const to = isBusinessScopedUserId(currentId)
    ? system.user_id
    : numberChanged
      ? (system.wa_id ?? (system.new_wa_id === undefined ? undefined : String(system.new_wa_id)))
      : undefined;
  const trimmed = to?.trim();
  return trimmed && trimmed !== currentId ? trimmed : undefined;
}

/**
 * The business-scoped user id Meta gives the user with a notice that their number or BSUID
 * changed (`system.user_id`): what a contact known by number records beside the new number.
 */
export function newUserIdOf(message: { type: string; raw: unknown }): string | undefined {
  const userId = idChangeOf(message)?.system.user_id?.trim();
  return userId ? userId : undefined;
}

/** Meta's notice that a user's number or BSUID changed, read from a stored message's raw form. */
function idChangeOf(message: { type: string; raw: unknown }) {
  if (message.type !== 'system') return undefined;
  const parsed = SystemMessage.shape.system.safeParse((message.raw as { system?: unknown } | null)?.system);
  if (!parsed.success) return undefined;
  const system = parsed.data;
  const numberChanged = system.type === 'user_changed_number' || system.type === 'customer_changed_number';
  if (!numberChanged && system.type !== 'user_changed_user_id') return undefined;
  return { system, numberChanged };
}
