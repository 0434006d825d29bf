import { query, type Db } from './client';
import { inboundStatus, scopedUserId, type InboundMessageInput, type StoredInbound } from './conversation.repository';

export type InboundBatchInput = InboundMessageInput & { inboxEventId: string };

/**
 * Stores many inbound messages in one statement: what `storeInboundMessage` does for one, for a
 * whole inbox job (a webhook batch), so that a batch of twelve costs PostgreSQL one round trip and
 * one commit instead of twelve. Returns one result per input, in input order, or `undefined` where
 * this statement could not settle a message; the caller stores those one at a time:
 * - a channel, contact, conversation or message that a concurrent transaction inserted after this
 *   statement's snapshot is neither inserted nor seen here (`storeInboundMessage` tries again);
 * - two inputs naming the same provider message (the second must read as a redelivery).
 * Two batches of the same contacts must not deadlock: new rows are inserted in key order, so one
 * waits for the other's keys in the same order (but for a contact's BSUID, a second key: two
 * batches each holding one user's number and another's BSUID alone can deadlock, which is rare
 * and ends in the fallback below), and existing rows are locked in id order
 * (`FOR NO KEY UPDATE ... ORDER BY`: the lock an UPDATE takes, which does not wait for the key
 * share a foreign-key check of an inserted message holds on its conversation) before they are
 * updated. Should the statement fail all the same, its caller stores that batch one message at a
 * time.
 */
export async function storeInboundMessages(
  db: Db,
  inputs: InboundBatchInput[],
): Promise<(StoredInbound | undefined)[]> {
  if (inputs.length === 0) return [];
  const seen = new Set<string>();
  const rows = [];
  for (const [ord, input] of inputs.entries()) {
    const key = JSON.stringify([input.provider, input.channelExternalId, input.providerMessageId]);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({
      ord,
      inbox_event_id: input.inboxEventId,
      provider: input.provider,
      channel_external_id: input.channelExternalId,
      display_phone_number: input.displayPhoneNumber ?? null,
      wa_id: input.waId,
      user_id: input.userId ?? null,
      scoped_id: scopedUserId(input),
      profile_name: input.profileName ?? null,
      provider_message_id: input.providerMessageId,
      type: input.type,
      status: inboundStatus(input),
      body: input.body,
      payload: input.payload ?? null,
      wa_timestamp: input.waTimestamp,
      arrived_at: input.arrivedAt ?? new Date(),
      arrival_seq: input.arrivalSeq?.toString() ?? null,
      from_me: input.fromMe ?? false,
      observed: input.observed ?? false,
    });
  }
  const { rows: stored } = await query<StoredInbound & { ord: number }>(db, {
    text: STORE_INBOUND_BATCH,
    values: [JSON.stringify(rows)],
  });
  const byOrd = new Map(stored.map(({ ord, ...row }) => [ord, row]));
  return inputs.map((_, ord) => byOrd.get(ord));
}

// Each step mirrors storeInboundMessage's (conversation.repository.ts), which says why; here each
// reads the rows its data-modifying siblings inserted from their RETURNING lists, since a
// statement's own inserts are not visible to its reads.
const STORE_INBOUND_BATCH = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
    ord int, inbox_event_id uuid, provider text, channel_external_id text, display_phone_number text,
    wa_id text, user_id text, scoped_id text, profile_name text, provider_message_id text, type text, status text, body text, payload jsonb,
    wa_timestamp timestamptz, arrived_at timestamptz, arrival_seq bigint, from_me boolean, observed boolean)),
ch_new AS (
  INSERT INTO channels (provider, external_id, display_phone_number)
  SELECT DISTINCT ON (provider, channel_external_id) provider, channel_external_id, display_phone_number
  FROM input ORDER BY provider, channel_external_id
  ON CONFLICT (provider, external_id) DO NOTHING RETURNING id, provider, external_id),
ch AS (
  SELECT id, provider, external_id FROM ch_new
  UNION ALL
  SELECT c.id, c.provider, c.external_id FROM channels c
  WHERE (c.provider, c.external_id) IN (SELECT provider, channel_external_id FROM input)),
ct_old AS (
  SELECT c.id, c.wa_id, c.user_id FROM contacts c WHERE c.wa_id IN (SELECT wa_id FROM input)
  UNION
  SELECT c.id, c.wa_id, c.user_id FROM contacts c
  WHERE c.user_id IN (SELECT user_id FROM input WHERE user_id IS NOT NULL) AND c.user_id IS NOT NULL),
ct_new AS (
  INSERT INTO contacts (wa_id, user_id, profile_name)
  SELECT DISTINCT ON (wa_id) wa_id,
         coalesce(user_id, (SELECT j.user_id FROM input j WHERE j.wa_id = i.wa_id AND j.user_id IS NOT NULL LIMIT 1)),
         profile_name
  FROM input i WHERE NOT EXISTS (SELECT 1 FROM ct_old o WHERE o.wa_id = i.wa_id OR o.user_id = i.user_id)
    -- A BSUID that another input of the batch sends beside a number makes no contact of its own:
    -- that input's contact records it, and this one is matched to it here or, if the number's
    -- contact existed without it, left to the one-at-a-time path, which runs after.
    AND NOT EXISTS (SELECT 1 FROM input j WHERE j.scoped_id = i.user_id AND j.wa_id <> i.wa_id)
  ORDER BY wa_id, profile_name IS NULL, wa_timestamp DESC, ord DESC
  ON CONFLICT DO NOTHING RETURNING id, wa_id, user_id),
ct AS (SELECT id, wa_id, user_id FROM ct_new UNION ALL SELECT id, wa_id, user_id FROM ct_old),
pair AS (
  SELECT i.*, ch.id AS channel_id, k.id AS contact_id
  FROM input i
  JOIN ch ON ch.provider = i.provider AND ch.external_id = i.channel_external_id
  JOIN LATERAL (
    SELECT ct.id FROM ct WHERE ct.wa_id = i.wa_id OR ct.user_id = i.user_id
    ORDER BY ct.wa_id = i.wa_id DESC LIMIT 1) k ON true),
cv_new AS (
  INSERT INTO conversations (channel_id, contact_id, last_inbound_at, last_activity_at)
  SELECT channel_id, contact_id, max(wa_timestamp) FILTER (WHERE NOT from_me), now()
  FROM pair GROUP BY channel_id, contact_id ORDER BY channel_id, contact_id
  ON CONFLICT (channel_id, contact_id) DO NOTHING RETURNING id, channel_id, contact_id),
cv AS (
  SELECT id, channel_id, contact_id FROM cv_new
  UNION ALL
  SELECT c.id, c.channel_id, c.contact_id FROM conversations c
  WHERE (c.channel_id, c.contact_id) IN (SELECT channel_id, contact_id FROM pair)),
msg_new AS (
  INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, provider_message_id, status,
                        wa_timestamp, arrived_at, arrival_seq, sent_at)
  SELECT cv.id, p.channel_id, CASE WHEN p.from_me THEN 'outbound' ELSE 'inbound' END, p.type, p.body,
         coalesce(p.payload, 'null'::jsonb), p.provider_message_id, p.status,
         p.wa_timestamp, p.arrived_at, p.arrival_seq, CASE WHEN p.from_me THEN p.wa_timestamp END
  FROM pair p JOIN cv ON cv.channel_id = p.channel_id AND cv.contact_id = p.contact_id
  ORDER BY p.channel_id, p.provider_message_id
  ON CONFLICT (channel_id, provider_message_id) DO NOTHING
  RETURNING id, conversation_id, channel_id, provider_message_id, status = 'received' AS pending),
new_input AS (
  SELECT p.ord, p.contact_id, p.profile_name, p.scoped_id, p.observed, p.wa_timestamp, p.arrived_at, n.id, n.conversation_id, n.channel_id,
         n.pending
  FROM msg_new n JOIN pair p ON p.channel_id = n.channel_id AND p.provider_message_id = n.provider_message_id),
msg AS (
  SELECT ord, id, conversation_id, channel_id, pending, true AS is_new FROM new_input
  UNION ALL
  SELECT p.ord, m.id, m.conversation_id, m.channel_id,
         m.direction = 'inbound' AND m.turn_id IS NULL AND m.status = 'received', false
  FROM pair p JOIN messages m ON m.channel_id = p.channel_id AND m.provider_message_id = p.provider_message_id),
named AS (
  SELECT DISTINCT ON (contact_id) contact_id, profile_name FROM new_input
  WHERE profile_name IS NOT NULL ORDER BY contact_id, wa_timestamp DESC, ord DESC),
scoped AS (
  SELECT DISTINCT ON (contact_id) contact_id, scoped_id AS user_id FROM new_input n
  WHERE scoped_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.user_id = n.scoped_id AND o.user_id IS NOT NULL)
    AND NOT EXISTS (SELECT 1 FROM ct_new o WHERE o.user_id = n.scoped_id)
  ORDER BY contact_id, wa_timestamp DESC, ord DESC),
ct_change AS (
  SELECT coalesce(n.contact_id, s.contact_id) AS contact_id, n.profile_name, s.user_id
  FROM named n FULL JOIN scoped s ON s.contact_id = n.contact_id),
ct_locked AS (
  SELECT c.id FROM contacts c JOIN ct_change x ON x.contact_id = c.id
  WHERE c.profile_name IS DISTINCT FROM coalesce(x.profile_name, c.profile_name) OR x.user_id IS NOT NULL
  ORDER BY c.id FOR NO KEY UPDATE OF c),
ct_name AS (
  UPDATE contacts c
  SET profile_name = coalesce(x.profile_name, c.profile_name), user_id = coalesce(x.user_id, c.user_id),
      updated_at = now()
  FROM ct_change x
  WHERE c.id = x.contact_id AND c.id IN (SELECT id FROM ct_locked)
  RETURNING c.id),
touched AS (
  SELECT conversation_id, max(wa_timestamp) AS ts FROM new_input WHERE pending OR observed GROUP BY conversation_id),
cv_locked AS (
  SELECT c.id FROM conversations c WHERE c.id IN (SELECT conversation_id FROM touched)
  ORDER BY c.id FOR NO KEY UPDATE),
cv_touch AS (
  UPDATE conversations c
  SET last_inbound_at = GREATEST(c.last_inbound_at, x.ts), last_activity_at = now(), updated_at = now()
  FROM touched x
  WHERE c.id = x.conversation_id AND c.id IN (SELECT id FROM cv_locked)
  RETURNING c.id),
processed AS (
  UPDATE inbox_events e SET processed_at = now()
  FROM input i JOIN msg ON msg.ord = i.ord
  WHERE e.id = i.inbox_event_id AND e.processed_at IS NULL
  RETURNING e.id)
SELECT msg.ord, msg.id AS "messageId", msg.conversation_id AS "conversationId", msg.channel_id AS "channelId",
       msg.is_new AS "isNew", msg.pending,
       (SELECT min(t) FROM (
          SELECT coalesce(q.arrived_at, q.created_at) AS t FROM messages q
          WHERE q.conversation_id = msg.conversation_id AND q.direction = 'inbound' AND q.turn_id IS NULL
            AND q.status = 'received'
          UNION ALL
          SELECT n.arrived_at FROM new_input n WHERE n.conversation_id = msg.conversation_id AND n.pending
        ) oldest) AS "oldestPendingAt"
FROM msg`;
