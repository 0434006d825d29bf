import { query, sql, type Db } from './client';

/**
 * What became of an id change: the contact moved to the new id; the new id already had a contact
 * of its own (it wrote before the notice was handled), so the two stay apart; or no contact had
 * the old id (the notice is the user's first message here, or it was handled before).
 */
export type IdChangeOutcome = 'moved' | 'taken' | 'none';

const UNIQUE_VIOLATION = '23505';

/**
 * Moves a contact to the id WhatsApp says they changed to (a `user_changed_number` notice, or a
 * new business-scoped user id), so that their conversations, history, handoff and opt-out follow
 * them and replies still queued go to the new id: a send reads the contact's id when it sends.
 * Run before the notice is stored, so a notice handled again finds the contact already moved.
 *
 * Only a contact that existed when the notice was sent moves (created up to a day after it, for
 * a notice that waited in a backlog): an old number given to someone else months later is that
 * person's, and a notice handled again then must not move them. When the new id already has a
 * contact, nothing is merged: joining two histories is a decision for a person.
 */
export async function moveContactToNewId(
  db: Db,
  change: { fromId: string; toId: string; toUserId?: string | undefined; noticeSentAt: Date },
): Promise<IdChangeOutcome> {
  const toUserId = change.toUserId ?? null;
  try {
    const { rows } = await query<{ moved: boolean; found: boolean }>(
      db,
      sql`
      WITH target AS (
        -- The contact with the old id, or else the one it was recorded on as a BSUID (a user
        -- known by number whose notice came without it). Locked, so that a concurrent move of
        -- the same contact is waited for and then seen: a row it moved no longer has the old
        -- id, and is neither found nor moved here.
        SELECT c.id, c.wa_id = ${change.fromId} AS by_id FROM contacts c
        WHERE (c.wa_id = ${change.fromId} OR (c.user_id = ${change.fromId} AND c.user_id IS NOT NULL))
          AND c.created_at <= ${change.noticeSentAt}::timestamptz + interval '1 day'
        ORDER BY c.wa_id = ${change.fromId} DESC LIMIT 1
        FOR UPDATE),
      -- Known by number: the new number, and the new BSUID when the notice gives one (none is
      -- better than the old one). Known by BSUID: the new one is both. Found by its BSUID: that.
      moved AS (
        UPDATE contacts c
        SET wa_id = CASE WHEN t.by_id THEN ${change.toId} ELSE c.wa_id END,
            user_id = CASE WHEN NOT t.by_id OR c.user_id = c.wa_id THEN ${change.toId} ELSE ${toUserId}::text END,
            updated_at = now()
        FROM target t
        WHERE c.id = t.id AND NOT EXISTS (SELECT 1 FROM contacts x WHERE x.wa_id = ${change.toId})
          AND NOT EXISTS (
            SELECT 1 FROM contacts x
            WHERE x.user_id IN (${change.toId}, ${toUserId}::text) AND x.user_id IS NOT NULL AND x.id <> c.id)
        RETURNING c.id)
      SELECT EXISTS (SELECT 1 FROM moved) AS moved, EXISTS (SELECT 1 FROM target) AS found`,
    );
    const [row] = rows;
    if (row?.moved) return 'moved';
    return row?.found ? 'taken' : 'none';
  } catch (error) {
    // The new id's first message inserted its contact while this statement ran.
    if ((error as { code?: string }).code === UNIQUE_VIOLATION) return 'taken';
    throw error;
  }
}
