import type { Db } from './client';

/** What a sender needs to deliver one outbound message. */
export async function getOutboundForSend(db: Db, id: string) {
  return db.message.findUnique({
    where: { id },
    include: { channel: true, conversation: { include: { contact: true } } },
  });
}

/**
 * Marks an outbound message as being sent and counts the attempt. A message still `queued` can
 * be claimed; one left `sending` only once its lease has run out (the attempt that set it died
 * mid-request, or gave up), so two attempts never send at once. Anything further along was
 * already sent and is never sent again.
 */
export async function claimForSending(db: Db, id: string, leaseMs: number): Promise<boolean> {
  const claimed = await db.$executeRaw`
    UPDATE messages SET status = 'sending', send_attempts = send_attempts + 1, updated_at = now()
    WHERE id = ${id}::uuid AND direction = 'outbound'
      AND (status = 'queued'
        OR (status = 'sending' AND updated_at < now() - make_interval(secs => ${leaseMs}::double precision / 1000)))`;
  return claimed === 1;
}

export async function markSent(db: Db, id: string, providerMessageId: string): Promise<void> {
  await db.$transaction([
    // Evolution echoes what we send as a `fromMe` message with the same id; if the echo was
    // stored before we got here, it is that same message: drop the copy, keep ours.
    db.$executeRaw`DELETE FROM messages echo USING messages ours
      WHERE ours.id = ${id}::uuid AND echo.channel_id = ours.channel_id
        AND echo.provider_message_id = ${providerMessageId} AND echo.id <> ours.id
        AND echo.direction = 'outbound' AND echo.turn_id IS NULL`,
    db.message.updateMany({
      where: { id, status: 'sending' },
      data: { status: 'sent', providerMessageId, sentAt: new Date(), errorCode: null, errorMessage: null },
    }),
  ]);
}

/** Puts a message back to `queued` with the error that made this attempt fail (it will be retried). */
export async function markSendRetrying(db: Db, id: string, error: { code: string; message: string }): Promise<void> {
  await db.message.updateMany({
    where: { id, status: 'sending' },
    data: { status: 'queued', errorCode: error.code, errorMessage: error.message },
  });
}

/**
 * Puts a message that cannot be sent automatically in the manual queue (status `manual`) with
 * the reason: a person decides to resend or discard it. Never silence, never a retry loop.
 */
export async function moveToManualQueue(db: Db, id: string, error: { code: string; message: string }): Promise<void> {
  await db.message.updateMany({
    // `failed`: Meta accepted it, then reported it could not deliver it.
    where: { id, status: { in: ['queued', 'sending', 'failed'] } },
    data: { status: 'manual', failedAt: new Date(), errorCode: error.code, errorMessage: error.message },
  });
}

/** A message Meta reported `failed` for a passing reason goes back to the outbox. */
export async function requeueFailedDelivery(db: Db, id: string): Promise<boolean> {
  const { count } = await db.message.updateMany({
    where: { id, direction: 'outbound', status: 'failed' },
    data: { status: 'queued' },
  });
  return count === 1;
}

/** The manual queue, oldest first, with who each message is for. */
export function listManualQueue(db: Db, { limit }: { limit: number }) {
  return db.message.findMany({
    where: { direction: 'outbound', status: 'manual' },
    orderBy: { failedAt: 'asc' },
    take: limit,
    include: { conversation: { include: { contact: true } }, channel: true },
  });
}

/** Takes a message out of the manual queue: back to `queued` for a new send, or `discarded`. */
export async function settleManualMessage(db: Db, id: string, action: 'resend' | 'discard'): Promise<boolean> {
  const { count } = await db.message.updateMany({
    where: { id, direction: 'outbound', status: 'manual' },
    data:
      action === 'resend'
        ? { status: 'queued', errorCode: null, errorMessage: null, failedAt: null }
        : { status: 'discarded' },
  });
  return count === 1;
}

export const DELIVERY_STATUSES = ['sent', 'delivered', 'read', 'played', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Order of progress; a status only ever moves a message forward along it. */
const PROGRESS = ['queued', 'sending', 'sent', 'delivered', 'read', 'played'];

const TIMESTAMP_COLUMN: Record<DeliveryStatus, string> = {
  sent: 'sent_at',
  delivered: 'delivered_at',
  read: 'read_at',
  played: 'read_at',
  failed: 'failed_at',
};

/**
 * Applies a delivery status from the provider to the outbound message with that wamid. The status
 * moves forward only (`read` then a late `delivered` stays `read`, though `delivered_at` is still
 * recorded); `failed` applies only to a message not yet delivered; each status keeps the first
 * time it was seen. One UPDATE decides all of it, so statuses handled concurrently cannot undo
 * each other. Returns false when no outbound message has that wamid (yet).
 */
export async function applyDeliveryStatus(
  db: Db,
  {
    channelId,
    providerMessageId,
    status,
    at,
    error,
  }: {
    channelId: string;
    providerMessageId: string;
    status: DeliveryStatus;
    at: Date;
    error?: { code: string; message: string } | undefined;
  },
): Promise<boolean> {
  const column = TIMESTAMP_COLUMN[status];
  const rank = `coalesce(array_position($5::text[], status), 0)`;
  const moves =
    status === 'failed'
      ? `${rank} < array_position($5::text[], 'delivered')`
      : `status <> 'failed' AND ${rank} < array_position($5::text[], $3)`;
  const updated = await db.$executeRawUnsafe(
    `UPDATE messages SET
       status = CASE WHEN ${moves} THEN $3 ELSE status END,
       ${column} = coalesce(${column}, $4),
       error_code = CASE WHEN $3 = 'failed' AND ${moves} THEN $6 ELSE error_code END,
       error_message = CASE WHEN $3 = 'failed' AND ${moves} THEN $7 ELSE error_message END,
       updated_at = now()
     WHERE channel_id = $1::uuid AND provider_message_id = $2 AND direction = 'outbound'`,
    channelId,
    providerMessageId,
    status,
    at,
    PROGRESS,
    error?.code ?? null,
    error?.message ?? null,
  );
  return updated > 0;
}

/**
 * Whether an earlier outbound message of the same conversation is still waiting to go out, and
 * whether it is merely in flight or waiting out a retry.
 * A conversation's messages are sent one after another, in the order they were written.
 */
export async function earlierUnsent(db: Db, messageId: string): Promise<'none' | 'in_flight' | 'retrying'> {
  // Earlier means: from an earlier turn of the conversation, or earlier in the same reply.
  // 'retrying': it failed at least once and waits out a retry delay (minutes, possibly).
  const rows = await db.$queryRaw<{ retrying: boolean }[]>`
    SELECT (other.status = 'queued' AND other.send_attempts > 0) AS retrying
    FROM messages me
    JOIN turns mt ON mt.id = me.turn_id
    JOIN messages other ON other.conversation_id = me.conversation_id
    JOIN turns ot ON ot.id = other.turn_id
    WHERE me.id = ${messageId}::uuid
      AND other.direction = 'outbound'
      AND other.status IN ('queued', 'sending')
      AND other.id <> me.id
      AND (ot.seq < mt.seq OR (ot.id = mt.id AND other.reply_index < me.reply_index))
    ORDER BY retrying DESC
    LIMIT 1`;
  const [row] = rows;
  return row ? (row.retrying ? 'retrying' : 'in_flight') : 'none';
}

/** A conversation's outbound messages still to send, oldest first (re-queued after a crash). */
export function unsentOutbound(db: Db, conversationId: string) {
  return db.message.findMany({
    where: { conversationId, direction: 'outbound', status: { in: ['queued', 'sending'] } },
    orderBy: [{ createdAt: 'asc' }, { replyIndex: 'asc' }],
    select: { id: true },
  });
}

/** Outbound messages left `queued` (or `sending`) for longer than `olderThanMs`: the outbox backstop. */
export function findStaleOutbound(db: Db, { olderThanMs, limit }: { olderThanMs: number; limit: number }) {
  return db.message.findMany({
    where: {
      direction: 'outbound',
      status: { in: ['queued', 'sending'] },
      updatedAt: { lt: new Date(Date.now() - olderThanMs) },
    },
    select: { id: true, status: true },
    orderBy: { createdAt: 'asc' },
    take: limit,
  });
}
