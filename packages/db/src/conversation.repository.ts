import type { Db } from './client';
import type { Prisma } from './generated/prisma/client';

export type Tx = Prisma.TransactionClient;

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
}

/**
 * Stores an inbound message with its channel, contact and conversation, creating what is
 * missing. Storing the same provider message twice returns the row stored the first time.
 */
export async function storeInboundMessage(db: Db, input: InboundMessageInput) {
  return db.$transaction(async (tx) => {
    // Single-statement upserts: Prisma's upsert reads then writes, which races when two
    // messages of a new contact arrive at once. ON CONFLICT is atomic.
    const [channel] = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO channels (provider, external_id, display_phone_number)
      VALUES (${input.provider}, ${input.channelExternalId}, ${input.displayPhoneNumber ?? null})
      ON CONFLICT (provider, external_id) DO UPDATE
        SET display_phone_number = COALESCE(EXCLUDED.display_phone_number, channels.display_phone_number)
      RETURNING id`;
    const [contact] = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO contacts (wa_id, profile_name)
      VALUES (${input.waId}, ${input.profileName ?? null})
      ON CONFLICT (wa_id) DO UPDATE
        SET profile_name = COALESCE(EXCLUDED.profile_name, contacts.profile_name), updated_at = now()
      RETURNING id`;
    const [conversation] = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO conversations (channel_id, contact_id, last_inbound_at)
      VALUES (${channel!.id}::uuid, ${contact!.id}::uuid, ${input.waTimestamp})
      ON CONFLICT (channel_id, contact_id) DO UPDATE
        SET last_inbound_at = GREATEST(conversations.last_inbound_at, EXCLUDED.last_inbound_at), updated_at = now()
      RETURNING id`;
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, provider_message_id, status, wa_timestamp)
      VALUES (${conversation!.id}::uuid, ${channel!.id}::uuid, 'inbound', ${input.type}, ${input.body},
              ${JSON.stringify(input.payload)}::jsonb, ${input.providerMessageId}, 'received', ${input.waTimestamp})
      ON CONFLICT (channel_id, provider_message_id) DO NOTHING
      RETURNING id`;
    const message = await tx.message.findUniqueOrThrow({
      where: { channelId_providerMessageId: { channelId: channel!.id, providerMessageId: input.providerMessageId } },
      include: { conversation: { include: { contact: true } } },
    });
    const { conversation: conv, ...messageRow } = message;
    const { contact: contactRow, ...conversationRow } = conv;
    return { conversation: conversationRow, contact: contactRow, message: messageRow, isNew: inserted.length > 0 };
  });
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
