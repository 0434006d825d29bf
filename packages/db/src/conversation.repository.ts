import type { Db } from './client';
export interface InboundMessageInput {
  provider: string;
  channelExternalId: string;
  displayPhoneNumber?: string | undefined;
  waId: string;
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
}

/**
 * Stores an inbound message with its channel, contact and conversation, creating what is
 * missing. Storing the same provider message twice returns the row stored the first time.
 *
 * No transaction, on purpose: every step is an idempotent insert-or-read, so a crash midway
 * leaves nothing a retry cannot finish. And no step locks a shared row: an upsert that updates
 * (`ON CONFLICT DO UPDATE`) would lock the business number's single channel row and make every
 * inbound message of every contact wait for the others.
 */
export async function storeInboundMessage(db: Db, input: InboundMessageInput) {
  const channelId = await ensureChannel(db, input.provider, input.channelExternalId, input.displayPhoneNumber);
  const contactId = await insertOrGet(
    () =>
      db.$queryRaw<{ id: string }[]>`
      WITH inserted AS (
        INSERT INTO contacts (wa_id, profile_name) VALUES (${input.waId}, ${input.profileName ?? null})
        ON CONFLICT (wa_id) DO NOTHING
        RETURNING id)
      SELECT id FROM inserted
      UNION ALL SELECT id FROM contacts WHERE wa_id = ${input.waId}
      LIMIT 1`,
  );
  if (input.profileName) {
    // Only when it changed: the common case writes (and locks) nothing.
    await db.$executeRaw`UPDATE contacts SET profile_name = ${input.profileName}, updated_at = now()
      WHERE id = ${contactId}::uuid AND profile_name IS DISTINCT FROM ${input.profileName}`;
  }
  const conversationId = await insertOrGet(
    () =>
      db.$queryRaw<{ id: string }[]>`
      WITH inserted AS (
        INSERT INTO conversations (channel_id, contact_id, last_inbound_at, last_activity_at)
        VALUES (${channelId}::uuid, ${contactId}::uuid, ${input.waTimestamp}, now())
        ON CONFLICT (channel_id, contact_id) DO NOTHING
        RETURNING id)
      SELECT id FROM inserted
      UNION ALL SELECT id FROM conversations WHERE channel_id = ${channelId}::uuid AND contact_id = ${contactId}::uuid
      LIMIT 1`,
  );
  const inserted = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, provider_message_id, status, wa_timestamp, arrived_at, arrival_seq, sent_at)
    VALUES (${conversationId}::uuid, ${channelId}::uuid, ${input.fromMe ? 'outbound' : 'inbound'}, ${input.type}, ${input.body},
            ${JSON.stringify(input.payload)}::jsonb, ${input.providerMessageId}, ${input.fromMe ? 'sent' : 'received'}, ${input.waTimestamp},
            ${input.arrivedAt ?? new Date()}, ${input.arrivalSeq ?? null}, ${input.fromMe ? input.waTimestamp : null})
    ON CONFLICT (channel_id, provider_message_id) DO NOTHING
    RETURNING id`;
  if (inserted.length > 0 && !input.fromMe) {
    await db.$executeRaw`UPDATE conversations
      SET last_inbound_at = GREATEST(last_inbound_at, ${input.waTimestamp}), last_activity_at = now(), updated_at = now()
      WHERE id = ${conversationId}::uuid`;
  }
  const message = await db.message.findUniqueOrThrow({
    where: { channelId_providerMessageId: { channelId, providerMessageId: input.providerMessageId } },
    include: { conversation: { include: { contact: true } } },
  });
  const { conversation: conv, ...messageRow } = message;
  const { contact: contactRow, ...conversationRow } = conv;
  return { conversation: conversationRow, contact: contactRow, message: messageRow, isNew: inserted.length > 0 };
}

/** The channel row of a business number, created on first use. */
export function ensureChannel(
  db: Db,
  provider: string,
  externalId: string,
  displayPhoneNumber?: string | undefined,
): Promise<string> {
  return insertOrGet(
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
}

/**
 * Runs an insert-or-select. When a concurrent insert of the same key commits after this
 * statement's snapshot, the insert conflicts and the select cannot see the row yet: the next
 * statement can, so one more try settles it.
 */
async function insertOrGet(query: () => Promise<{ id: string }[]>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const [row] = await query();
    if (row) return row.id;
    if (attempt === 3) throw new Error('insert-or-get found no row after 3 tries');
  }
}

export function getConversation(db: Db, id: string) {
  return db.conversation.findUniqueOrThrow({ where: { id }, include: { contact: true, channel: true } });
}

/** The conversation's most recent messages, oldest first: the history the engine reads. */
export async function recentMessages(db: Db, conversationId: string, limit = 20) {
  const rows = await db.message.findMany({
    where: { conversationId },
    orderBy: [{ createdAt: 'desc' }],
    take: limit,
  });
  return rows.reverse();
}
