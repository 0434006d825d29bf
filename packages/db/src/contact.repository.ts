import { query, sql, type Db } from './client';

/**
 * What became of a number change: the contact moved to the new number; the new number already
 * had a contact of its own (it wrote before the notice was handled), so the two stay apart; or
 * the contact no longer has the old number (the notice was handled before).
 */
export type NumberChangeOutcome = 'moved' | 'taken' | 'unchanged';

const UNIQUE_VIOLATION = '23505';

/**
 * Moves a contact to the number WhatsApp says they changed to (a `user_changed_number` notice),
 * so that their conversations, history, handoff and opt-out follow them, and replies still queued
 * go to the new number: a send reads the contact's number when it sends.
 *
 * The contact is the one whose conversation holds the notice, found through that conversation
 * rather than by the old number: a notice handled again after the old number was given to
 * someone else moves nobody. When the new number already has a contact, nothing is merged:
 * joining two conversations' histories is a decision for a person, not for a webhook.
 */
export async function moveContactToNumber(
  db: Db,
  change: { conversationId: string; fromWaId: string; toWaId: string },
): Promise<NumberChangeOutcome> {
  try {
    const { rows } = await query<{ found: boolean; moved: boolean }>(
      db,
      sql`
      WITH target AS (
        SELECT c.id FROM contacts c JOIN conversations cv ON cv.contact_id = c.id
        WHERE cv.id = ${change.conversationId}::uuid AND c.wa_id = ${change.fromWaId}),
      moved AS (
        UPDATE contacts c SET wa_id = ${change.toWaId}, updated_at = now()
        FROM target t
        WHERE c.id = t.id AND NOT EXISTS (SELECT 1 FROM contacts x WHERE x.wa_id = ${change.toWaId})
        RETURNING c.id)
      SELECT EXISTS (SELECT 1 FROM target) AS found, EXISTS (SELECT 1 FROM moved) AS moved`,
    );
    const [row] = rows;
    if (row?.moved) return 'moved';
    return row?.found ? 'taken' : 'unchanged';
  } catch (error) {
    // The new number's first message inserted its contact while this statement ran.
    if ((error as { code?: string }).code === UNIQUE_VIOLATION) return 'taken';
    throw error;
  }
}
