import { query, sql, type Db } from './client';

/**
 * What became of an id change: the contact moved to the new id; the new id already had a contact
 * of its own (it wrote before the notice was handled), so the two stay apart; or no contact had
 * the old id (the notice is the user's first message here, or it was handled before).
 */
export type IdChangeOutcome = 'moved' | 'taken' | 'none';

const UNIQUE_VIOLATION = '23505';

/** What a contact is known by after a move. */
export interface ContactIds {
  waId: string;
  userId: string | null;
}

/**
 * Moves a contact to what WhatsApp says they now go by (a `user_changed_number` or
 * `user_changed_user_id` notice), so that their conversations, history, handoff and opt-out
 * follow them and replies still queued go to the new id: a send reads the contact's id when it
 * sends. Run before the notice is stored, so a notice handled again finds the contact moved.
 *
 * The contact is the one with the notice's sender id, or else the one its BSUID (the sender's,
 * or the `previous_user_id` the notice names) was recorded on: a user known by number whose
 * notice came without it. A new number replaces the contact's
 * id, or the new BSUID does when the notice withholds the number; a new BSUID alone replaces the
 * id of a contact known by its BSUID. The new BSUID is recorded either way, unless another
 * contact holds it.
 *
 * Only a contact that existed when the notice was sent moves (created up to a day after it, for
 * a notice that waited in a backlog): an old number given to someone else months later is that
 * person's, and a notice handled again then must not move them. When the new id already has a
 * contact, nothing is merged: joining two histories is a decision for a person.
 */
export async function moveContactToNewId(
  db: Db,
  move: {
    fromId: string;
    fromUserId?: string | undefined;
    change: {
      numberChanged: boolean;
      newWaId?: string | undefined;
      newUserId?: string | undefined;
      previousUserId?: string | undefined;
    };
    noticeSentAt: Date;
  },
): Promise<{ outcome: IdChangeOutcome; ids?: ContactIds }> {
  const { fromId, change } = move;
  const [fromUserId, newWaId, newUserId] = [move.fromUserId ?? null, change.newWaId ?? null, change.newUserId ?? null];
  const previousUserId = change.previousUserId ?? null;
  try {
    const { rows } = await query<{ found: boolean; waId: string | null; userId: string | null }>(
      db,
      sql`
      WITH target AS (
        -- Locked, so that a concurrent move of the same contact is waited for and then seen: a
        -- row it moved no longer has the old ids, and is neither found nor moved here.
        SELECT c.id FROM contacts c
        WHERE (c.wa_id = ${fromId}
               OR (c.user_id IN (${fromId}, ${fromUserId}::text, ${previousUserId}::text) AND c.user_id IS NOT NULL))
          AND c.created_at <= ${move.noticeSentAt}::timestamptz + interval '1 day'
        ORDER BY c.wa_id = ${fromId} DESC LIMIT 1
        FOR UPDATE),
      next AS (
        SELECT c.id, CASE WHEN ${change.numberChanged}::boolean THEN coalesce(${newWaId}::text, ${newUserId}::text)
                          WHEN c.user_id = c.wa_id THEN ${newUserId}::text
                          ELSE c.wa_id END AS wa_id
        FROM contacts c JOIN target t ON t.id = c.id),
      moved AS (
        UPDATE contacts c
        SET wa_id = n.wa_id,
            user_id = CASE WHEN EXISTS (
                        SELECT 1 FROM contacts x WHERE x.user_id = ${newUserId}::text AND x.user_id IS NOT NULL AND x.id <> c.id)
                      THEN NULL ELSE ${newUserId}::text END,
            updated_at = now()
        FROM next n
        WHERE c.id = n.id AND NOT EXISTS (SELECT 1 FROM contacts x WHERE x.wa_id = n.wa_id AND x.id <> c.id)
          -- Known by the new BSUID: a contact holding it already is the user's new self.
          AND NOT (n.wa_id = ${newUserId}::text AND EXISTS (
                SELECT 1 FROM contacts x WHERE x.user_id = ${newUserId}::text AND x.user_id IS NOT NULL AND x.id <> c.id))
        RETURNING c.wa_id, c.user_id)
      SELECT EXISTS (SELECT 1 FROM target) AS found, m.wa_id AS "waId", m.user_id AS "userId"
      FROM (SELECT 1) one LEFT JOIN moved m ON true`,
    );
    const [row] = rows;
    if (row?.waId) return { outcome: 'moved', ids: { waId: row.waId, userId: row.userId } };
    return { outcome: row?.found ? 'taken' : 'none' };
  } catch (error) {
    // The new id's first message inserted its contact while this statement ran.
    if ((error as { code?: string }).code === UNIQUE_VIOLATION) return { outcome: 'taken' };
    throw error;
  }
}
