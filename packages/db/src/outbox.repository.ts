import type { Db } from './client';
import { ensureChannel } from './conversation.repository';

/** One outbound message to write: who it is for and what it says (the payload is the sender's content). */
export interface NewOutbound {
  waId: string;
  /** The content's type (text, template, interactive, image, ...). */
  type: string;
  /** A human-readable rendering (the text itself for text), for history and the manual queue. */
  body: string;
  payload: unknown;
}

export interface OutboxWrite {
  provider: string;
  /** The business number (phone_number_id) or Evolution instance that sends. */
  channelExternalId: string;
  messages: NewOutbound[];
  /** Not sent before this time. */
  sendAfter?: Date | undefined;
  /** Makes the write a broadcast: one row per message, progress readable by its id. */
  broadcast?: { template: unknown; createdBy?: string | undefined } | undefined;
}

export interface OutboxWritten {
  broadcastId?: string;
  /** The rows written (the outbox), in order: queue one send job each. */
  messages: { id: string; waId: string }[];
  /** Recipients left out because they opted out. */
  optedOut: string[];
  /** Broadcast recipients left out because another id of the same contact came first. */
  sameContact: number;
}

/** The first message for each contact, in order. */
function firstPerContact(messages: NewOutbound[], contactOf: (waId: string) => string): NewOutbound[] {
  const seen = new Set<string>();
  return messages.filter((m) => !seen.has(contactOf(m.waId)) && seen.add(contactOf(m.waId)));
}

/**
 * Writes outbound messages that did not come from a bot turn (the API, broadcasts) as `queued`
 * rows, creating the contacts and conversations they need, in one transaction and a handful of
 * statements whatever the number of recipients. Contacts who opted out get nothing. The caller
 * queues the send jobs afterwards; if it crashes first, the sweeper finds the rows.
 */
export async function writeOutbox(db: Db, write: OutboxWrite): Promise<OutboxWritten> {
  const channelId = await ensureChannel(db, write.provider, write.channelExternalId);
  const requested = [...new Set(write.messages.map((m) => m.waId))];
  return db.$transaction(
    async (tx) => {
      // A BSUID recorded on a contact known by its number names that contact, its opt-out
      // included (storeInboundMessage records it). A contact with that id of its own keeps it.
      const aliases = new Map(
        (
          await tx.$queryRaw<{ userId: string; waId: string }[]>`
            SELECT c.user_id AS "userId", c.wa_id AS "waId" FROM contacts c
            WHERE c.user_id = ANY(${requested}::text[]) AND c.user_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM contacts x WHERE x.wa_id = c.user_id)`
        ).map((row) => [row.userId, row.waId]),
      );
      const contactOf = (waId: string) => aliases.get(waId) ?? waId;
      // A broadcast gives each contact one message, even when it names them by both ids.
      const wanted = write.broadcast ? firstPerContact(write.messages, contactOf) : write.messages;
      const waIds = [...new Set(wanted.map((m) => contactOf(m.waId)))];
      // A new contact named by a BSUID (the API takes digits or a BSUID) records it as its BSUID,
      // as an inbound one does, so that their number, when it shows up beside it, finds them.
      await tx.$executeRaw`
        INSERT INTO contacts (wa_id, user_id)
        SELECT w, CASE WHEN w !~ '^[0-9]+$' THEN w END FROM unnest(${waIds}::text[]) AS w
        ON CONFLICT DO NOTHING`;
      await tx.$executeRaw`
        INSERT INTO conversations (channel_id, contact_id)
        SELECT ${channelId}::uuid, id FROM contacts WHERE wa_id = ANY(${waIds}::text[])
        ON CONFLICT (channel_id, contact_id) DO NOTHING`;
      const optedOut = await tx.$queryRaw<{ waId: string }[]>`
        SELECT wa_id AS "waId" FROM contacts WHERE wa_id = ANY(${waIds}::text[]) AND opted_out_at IS NOT NULL`;
      const broadcast = write.broadcast
        ? await tx.broadcast.create({
            data: {
              channelId,
              template: write.broadcast.template as object,
              requested: waIds.length,
              skipped: optedOut.length,
              createdBy: write.broadcast.createdBy ?? null,
            },
          })
        : undefined;
      // reply_index keeps the parts of one request in order (a long text split in several).
      const messages = await tx.$queryRaw<{ id: string; waId: string }[]>`
        WITH inserted AS (
          INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, status, reply_index, send_after, broadcast_id)
          SELECT cv.id, ${channelId}::uuid, 'outbound', m.type, m.body, m.payload::jsonb, 'queued', m.ord - 1,
                 ${write.sendAfter ?? null}::timestamptz, ${broadcast?.id ?? null}::uuid
          FROM unnest(${wanted.map((m) => contactOf(m.waId))}::text[], ${wanted.map((m) => m.type)}::text[],
                      ${wanted.map((m) => m.body)}::text[], ${wanted.map((m) => JSON.stringify(m.payload))}::text[])
               WITH ORDINALITY AS m(wa_id, type, body, payload, ord)
          JOIN contacts ct ON ct.wa_id = m.wa_id AND ct.opted_out_at IS NULL
          JOIN conversations cv ON cv.channel_id = ${channelId}::uuid AND cv.contact_id = ct.id
          RETURNING id, conversation_id, reply_index)
        SELECT inserted.id, ct.wa_id AS "waId"
        FROM inserted JOIN conversations cv ON cv.id = inserted.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
        ORDER BY inserted.reply_index`;
      return {
        ...(broadcast && { broadcastId: broadcast.id }),
        messages,
        // In the caller's terms: the ids it asked for.
        optedOut: [...new Set(wanted.map((m) => m.waId))].filter((waId) =>
          optedOut.some((o) => o.waId === contactOf(waId)),
        ),
        sameContact: write.messages.length - wanted.length,
      };
    },
    { timeout: 60_000, maxWait: 10_000 },
  );
}

const PROGRESS_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'played', 'failed', 'manual', 'discarded'];

/** A broadcast and how far it got: messages per status. Null when there is no such broadcast. */
export async function broadcastProgress(db: Db, id: string) {
  const broadcast = await db.broadcast.findUnique({ where: { id }, include: { channel: true } });
  if (!broadcast) return null;
  const rows = await db.message.groupBy({ by: ['status'], where: { broadcastId: id }, _count: { _all: true } });
  const counts = Object.fromEntries(PROGRESS_STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const row of rows) counts[row.status] = row._count._all;
  const total = rows.reduce((sum, r) => sum + r._count._all, 0);
  const pending = counts.queued! + counts.sending!;
  return { broadcast, total, counts, pending };
}
