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
    const channel = await tx.channel.upsert({
      where: { provider_externalId: { provider: input.provider, externalId: input.channelExternalId } },
      create: {
        provider: input.provider,
        externalId: input.channelExternalId,
        displayPhoneNumber: input.displayPhoneNumber ?? null,
      },
      update: {},
    });
    const contact = await tx.contact.upsert({
      where: { waId: input.waId },
      create: { waId: input.waId, profileName: input.profileName ?? null },
      update: input.profileName ? { profileName: input.profileName } : {},
    });
    const conversation = await tx.conversation.upsert({
      where: { channelId_contactId: { channelId: channel.id, contactId: contact.id } },
      create: { channelId: channel.id, contactId: contact.id, lastInboundAt: input.waTimestamp },
      update: {},
    });
    await tx.$executeRaw`UPDATE conversations SET last_inbound_at = GREATEST(last_inbound_at, ${input.waTimestamp}), updated_at = now() WHERE id = ${conversation.id}::uuid`;
    const inserted = await tx.$queryRaw<{ id: string }[]>`
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, provider_message_id, status, wa_timestamp)
      VALUES (${conversation.id}::uuid, ${channel.id}::uuid, 'inbound', ${input.type}, ${input.body},
              ${JSON.stringify(input.payload)}::jsonb, ${input.providerMessageId}, 'received', ${input.waTimestamp})
      ON CONFLICT (channel_id, provider_message_id) DO NOTHING
      RETURNING id`;
    const message = await tx.message.findUniqueOrThrow({
      where: {
        channelId_providerMessageId: { channelId: channel.id, providerMessageId: input.providerMessageId },
      },
    });
    return { channel, contact, conversation, message, isNew: inserted.length > 0 };
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
