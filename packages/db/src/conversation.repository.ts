import { coalescedRead } from './coalesced';
import { query, sql, type Db } from './client';
export interface InboundMessageInput {
  provider: string;
  channelExternalId: string;
  displayPhoneNumber?: string | undefined;
  waId: string;
  /**
   * The sender's business-scoped user id (BSUID), when Meta sent one. A contact is found by
   * `waId` or by this, so a user known by their number who later writes with a username (the
   * BSUID alone) stays one contact; sent beside a number, it is recorded on the contact.
   */
  userId?: string | undefined;
  profileName?: string | undefined;
  providerMessageId: string;
  type: string;
  body: string | null;
  payload: unknown;
  waTimestamp: Date;
  /** When the webhook received it, and in which order within its delivery. */
  arrivedAt?: Date | undefined;
  arrivalSeq?: bigint | undefined;
  /**
   * Sent by the business itself from its own phone (Evolution reports these): stored in the
   * conversation as an outbound message already sent, and never answered.
   */
  fromMe?: boolean | undefined;
  /**
   * Seen while another app on the number handles the conversation (Meta Business Agent's
   * standby): history, never answered.
   */
  observed?: boolean | undefined;
}

/**
 * Message types that ask for no answer: a reaction (to a message already in the conversation, or
 * its removal) and a system notice (the contact changed number). They are kept in the
 * conversation as `noted`, which no turn reads, so the bot never answers a thumbs-up.
 */
const ASKS_NO_ANSWER = new Set(['reaction', 'system']);

/** The status a stored message starts in: `sent` (the business's own), `noted` or `received`. */
export function inboundStatus(
  input: Pick<InboundMessageInput, 'type' | 'fromMe' | 'observed'>,
): 'sent' | 'noted' | 'received' {
  if (input.fromMe) return 'sent';
  return input.observed || ASKS_NO_ANSWER.has(input.type) ? 'noted' : 'received';
}

/**
 * The BSUID to record on the message's contact: one Meta sent beside a phone number. Without a
 * number the BSUID is the contact's id already.
 */
export function scopedUserId(input: Pick<InboundMessageInput, 'waId' | 'userId'>): string | null {
  return input.userId !== undefined && input.userId !== input.waId ? input.userId : null;
}

/** What storing an inbound message decided. */
export interface StoredInbound {
  conversationId: string;
  messageId: string;
  channelId: string;
  /** false when the same provider message was stored before (a redelivery or a retried job). */
  isNew: boolean;
  /** The message still waits for a turn to answer it (never true for the business's own). */
  pending: boolean;
  /** When the conversation's oldest unanswered message arrived (for the debounce's maximum wait). */
  oldestPendingAt: Date | null;
}

/**
 * Stores an inbound message with its channel, contact and conversation, creating what is
 * missing, and marks its inbox event processed: one statement, so one round trip, and the message
 * and its event's `processed_at` become visible together. Storing the same provider message
 * twice returns the row stored the first time.
 *
 * Every step is an idempotent insert-or-read, and none locks a shared row: an upsert that updates
 * (`ON CONFLICT DO UPDATE`) would lock the business number's single channel row and make every
 * inbound message of every contact wait for the others.
 */
export async function storeInboundMessage(
  db: Db,
  input: InboundMessageInput & { inboxEventId?: string | undefined },
): Promise<StoredInbound> {
  const direction = input.fromMe ? 'outbound' : 'inbound';
  const arrivedAt = input.arrivedAt ?? new Date();
  const userId = input.userId ?? null;
  const scopedId = scopedUserId(input);
  const [row] = await insertOrGet(
    async () =>
      (
        await query<StoredInbound>(
          db,
          sql`
    WITH ch_new AS (
      INSERT INTO channels (provider, external_id, display_phone_number)
      VALUES (${input.provider}, ${input.channelExternalId}, ${input.displayPhoneNumber ?? null})
      ON CONFLICT (provider, external_id) DO NOTHING RETURNING id),
    ch AS (
      SELECT id FROM ch_new
      UNION ALL SELECT id FROM channels WHERE provider = ${input.provider} AND external_id = ${input.channelExternalId}
      LIMIT 1),
    -- The contact with this id, or else the one this BSUID was recorded on (see InboundMessageInput).
    ct_old AS (
      SELECT id, 1 AS rank FROM contacts WHERE wa_id = ${input.waId}
      UNION ALL
      SELECT id, 2 FROM contacts WHERE user_id = ${userId}::text AND user_id IS NOT NULL),
    ct_new AS (
      INSERT INTO contacts (wa_id, user_id, profile_name)
      SELECT ${input.waId}, ${userId}::text, ${input.profileName ?? null} WHERE NOT EXISTS (SELECT 1 FROM ct_old)
      ON CONFLICT DO NOTHING RETURNING id),
    ct AS (
      SELECT id FROM ct_new UNION ALL (SELECT id FROM ct_old ORDER BY rank LIMIT 1) LIMIT 1),
    cv_new AS (
      INSERT INTO conversations (channel_id, contact_id, last_inbound_at, last_activity_at)
      -- The business's own message opens no customer-service window.
      SELECT ch.id, ct.id, ${input.fromMe ? null : input.waTimestamp}::timestamptz, now() FROM ch, ct
      ON CONFLICT (channel_id, contact_id) DO NOTHING RETURNING id),
    cv AS (
      SELECT id FROM cv_new
      UNION ALL SELECT c.id FROM conversations c, ch, ct WHERE c.channel_id = ch.id AND c.contact_id = ct.id
      LIMIT 1),
    msg_new AS (
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, provider_message_id, status,
                            wa_timestamp, arrived_at, arrival_seq, sent_at)
      SELECT cv.id, ch.id, ${direction}, ${input.type}, ${input.body}, ${JSON.stringify(input.payload)}::jsonb,
             ${input.providerMessageId}, ${inboundStatus(input)}, ${input.waTimestamp}, ${arrivedAt},
             ${input.arrivalSeq ?? null}, ${input.fromMe ? input.waTimestamp : null}
      FROM cv, ch
      ON CONFLICT (channel_id, provider_message_id) DO NOTHING
      RETURNING id, conversation_id, channel_id, status = 'received' AS pending),
    -- A BSUID sent beside the number, to record on the contact: unless another contact holds it
    -- (one first known by it, before the number was seen), which stays theirs.
    scoped AS (
      SELECT ${scopedId}::text AS user_id
      WHERE ${scopedId}::text IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.user_id = ${scopedId}::text AND o.user_id IS NOT NULL)),
    -- Only with a new message (a redelivered old one must not bring back an old name), and only
    -- when the name or the BSUID changed: the common case writes (and locks) nothing.
    ct_name AS (
      UPDATE contacts
      SET profile_name = coalesce(${input.profileName ?? null}::text, profile_name),
          user_id = coalesce((SELECT user_id FROM scoped), user_id), updated_at = now()
      WHERE id = (SELECT id FROM ct) AND EXISTS (SELECT 1 FROM msg_new)
        AND ((${input.profileName ?? null}::text IS NOT NULL AND profile_name IS DISTINCT FROM ${input.profileName ?? null})
             OR EXISTS (SELECT 1 FROM scoped))
      RETURNING id),
    msg AS (
      SELECT id, conversation_id, channel_id, pending, true AS is_new FROM msg_new
      UNION ALL
      SELECT m.id, m.conversation_id, m.channel_id,
             m.direction = 'inbound' AND m.turn_id IS NULL AND m.status = 'received', false
      FROM messages m, ch WHERE m.channel_id = ch.id AND m.provider_message_id = ${input.providerMessageId}
      LIMIT 1),
    cv_touch AS (
      UPDATE conversations
      SET last_inbound_at = GREATEST(last_inbound_at, ${input.waTimestamp}), last_activity_at = now(), updated_at = now()
      -- The user wrote: an unanswered message, or one another app answers (observed).
      WHERE id = (SELECT conversation_id FROM msg WHERE is_new AND (pending OR ${input.observed ?? false}::boolean))
      RETURNING id),
    processed AS (
      UPDATE inbox_events SET processed_at = now()
      WHERE id = ${input.inboxEventId ?? null}::uuid AND processed_at IS NULL AND EXISTS (SELECT 1 FROM msg)
      RETURNING id)
    SELECT msg.id AS "messageId", msg.conversation_id AS "conversationId", msg.channel_id AS "channelId",
           msg.is_new AS "isNew", msg.pending,
           -- This statement's own insert is not visible to its reads: add it by hand.
           (SELECT min(t) FROM (
              SELECT coalesce(p.arrived_at, p.created_at) AS t FROM messages p
              WHERE p.conversation_id = msg.conversation_id AND p.direction = 'inbound' AND p.turn_id IS NULL
                AND p.status = 'received'
              UNION ALL SELECT ${arrivedAt}::timestamptz WHERE msg.is_new AND msg.pending) oldest) AS "oldestPendingAt"
    FROM msg`,
        )
      ).rows,
  );
  return row!;
}

/** The channel row of a business number, created on first use. */
export async function ensureChannel(
  db: Db,
  provider: string,
  externalId: string,
  displayPhoneNumber?: string | undefined,
): Promise<string> {
  const [row] = await insertOrGet(
    () =>
      db.$queryRaw<{ id: string }[]>`
      WITH inserted AS (
        INSERT INTO channels (provider, external_id, display_phone_number)
        VALUES (${provider}, ${externalId}, ${displayPhoneNumber ?? null})
        ON CONFLICT (provider, external_id) DO NOTHING
        RETURNING id)
      SELECT id FROM inserted
      UNION ALL SELECT id FROM channels WHERE provider = ${provider} AND external_id = ${externalId}
      LIMIT 1`,
  );
  return row!.id;
}

/**
 * Runs an insert-or-select. When a concurrent insert of the same key commits after this
 * statement's snapshot, the insert conflicts and the select cannot see the row yet: the next
 * statement can, so one more try settles it. So too when an update of the statement meets such
 * a row (a contact's BSUID recorded by another message meanwhile): a unique violation.
 */
async function insertOrGet<Row>(query: () => Promise<Row[]>): Promise<Row[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const rows = await query();
      if (rows.length > 0) return rows;
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION || attempt === 3) throw error;
      continue;
    }
    if (attempt === 3) throw new Error('insert-or-get found no row after 3 tries');
  }
}

const UNIQUE_VIOLATION = '23505';

/** A conversation with its business number and contact: what a turn reads before its lock. */
export interface TurnConversation {
  id: string;
  channelId: string;
  contactId: string;
  /** "bot" or "human". */
  state: string;
  context: unknown;
  lastInboundAt: Date | null;
  turnFence: bigint;
  failedTurns: number;
  channel: { id: string; provider: string; externalId: string };
  contact: { id: string; waId: string; profileName: string | null; optedOutAt: Date | null };
}

type ConversationRow = Omit<TurnConversation, 'turnFence' | 'channel' | 'contact'> & {
  turnFence: string;
  channelProvider: string;
  channelExternalId: string;
  waId: string;
  profileName: string | null;
  optedOutAt: Date | null;
};

/**
 * The conversation a turn works on; throws if there is none. Every turn runs it, so it is one
 * prepared statement rather than a Prisma `include`: Prisma's own CPU per statement (see `query`)
 * and, with the inbox read, 75 MB of the worker's memory (bench/README.md, "memory"). Concurrent
 * turns share the statement (`coalescedRead`).
 */
export async function getConversation(db: Db, id: string): Promise<TurnConversation> {
  const conversation = await readConversation(db, id);
  if (!conversation) throw new Error(`conversation ${id} does not exist`);
  return conversation;
}

const readConversation = coalescedRead(async (db, ids) => {
  const { rows } = await query<ConversationRow>(
    db,
    sql`SELECT cv.id, cv.channel_id AS "channelId", cv.contact_id AS "contactId", cv.state, cv.context,
              cv.last_inbound_at AS "lastInboundAt", cv.turn_fence::text AS "turnFence",
              cv.failed_turns AS "failedTurns", ch.provider AS "channelProvider",
              ch.external_id AS "channelExternalId", ct.wa_id AS "waId", ct.profile_name AS "profileName",
              ct.opted_out_at AS "optedOutAt"
       FROM conversations cv
       JOIN channels ch ON ch.id = cv.channel_id
       JOIN contacts ct ON ct.id = cv.contact_id
       WHERE cv.id = ANY(${ids}::uuid[])`,
  );
  return new Map(
    rows.map((row): [string, TurnConversation] => {
      const { channelProvider, channelExternalId, waId, profileName, optedOutAt, turnFence, ...conversation } = row;
      return [
        row.id,
        {
          ...conversation,
          turnFence: BigInt(turnFence),
          channel: { id: row.channelId, provider: channelProvider, externalId: channelExternalId },
          contact: { id: row.contactId, waId, profileName, optedOutAt },
        },
      ];
    }),
  );
});

/** The conversation's most recent messages, oldest first: the history the engine reads. */
export async function recentMessages(db: Db, conversationId: string, limit = 20) {
  const rows = await db.message.findMany({
    where: { conversationId },
    orderBy: [{ createdAt: 'desc' }],
    take: limit,
  });
  return rows.reverse();
}
