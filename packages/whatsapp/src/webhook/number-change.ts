import { SystemMessage } from './notification.schema';

/** Meta's notice that a user changed their number or their business-scoped user id (BSUID). */
export interface IdChange {
  /**
   * A new number (`user_changed_number`, or the older `customer_changed_number`), which comes
   * with a new BSUID; else only the BSUID changed (`user_changed_user_id`).
   */
  numberChanged: boolean;
  /** The new number, when the notice gives it (`system.wa_id`, or the older `new_wa_id`). */
  newWaId?: string;
  /** The new BSUID, when the notice gives it (`system.user_id`). */
  newUserId?: string;
  /** The BSUID the user had before, when the notice gives it (`system.previous_user_id`). */
  previousUserId?: string;
}

/**
 * What a user now goes by, from a stored message's raw form; undefined unless the message is
 * Meta's notice that it changed and names something new.
 */
export function idChangeOf(message: { type: string; raw: unknown }): IdChange | undefined {
  if (message.type !== 'system') return undefined;
  const parsed = SystemMessage.shape.system.safeParse((message.raw as { system?: unknown } | null)?.system);
  if (!parsed.success) return undefined;
  const system = parsed.data;
  const numberChanged = system.type === 'user_changed_number' || system.type === 'customer_changed_number';
  if (!numberChanged && system.type !== 'user_changed_user_id') return undefined;
  const newWaId = numberChanged
    ? present(system.wa_id ?? (system.new_wa_id === undefined ? undefined : String(system.new_wa_id)))
    : undefined;
  const newUserId = present(system.user_id);
  if (newWaId === undefined && newUserId === undefined) return undefined;
  const previousUserId = present(system.previous_user_id);
  return {
    numberChanged,
    ...(newWaId !== undefined && { newWaId }),
    ...(newUserId !== undefined && { newUserId }),
    ...(previousUserId !== undefined && { previousUserId }),
  };
}

function present(id: string | undefined): string | undefined {
  const trimmed = id?.trim();
  return trimmed ? trimmed : undefined;
}
