import { coalescedRead, coalescedWrite } from './coalesced';
import { query, sql, type Db, type Statement } from './client';

/** What a sender needs to deliver one outbound message. */
export interface OutboundForSend {
  id: string;
  conversationId: string;
  turnId: string | null;
  broadcastId: string | null;
  type: string;
  body: string | null;
  payload: unknown;
  status: string;
  providerMessageId: string | null;
  sendAttempts: number;
  sendAfter: Date | null;
  sendAsTemplate: boolean;
  fallbackStage: string | null;
  updatedAt: Date;
  channel: { externalId: string };
  conversation: { lastInboundAt: Date | null; contact: { waId: string; optedOutAt: Date | null } };
  /**
   * Whether an earlier outbound message of the same conversation is still waiting to go out, and
   * whether it is merely in flight or waiting out a retry: a conversation's messages are sent one
   * after another, in the order they were written.
   */
  earlier: 'none' | 'in_flight' | 'retrying';
}

/**
 * The message, its channel, contact and window, and what waits before it: one statement, as
 * every send starts with it, shared by concurrent sends (`coalescedRead`).
 */
export async function getOutboundForSend(db: Db, id: string): Promise<OutboundForSend | null> {
  return (await readOutboundsForSend(db, id)) ?? null;
}

const readOutboundsForSend = coalescedRead(async (db, ids): Promise<Map<string, OutboundForSend>> => {
  // Earlier means: from an earlier turn of the conversation, or earlier in the same reply; for
  // messages written through the API (no turn), written earlier or earlier in the same request.
  // Broadcasts stand alone. 'retrying': it failed once and waits out a retry delay (minutes).
  const { rows } = await query<
    Omit<OutboundForSend, 'channel' | 'conversation'> & {
      channelExternalId: string;
      lastInboundAt: Date | null;
      waId: string;
      optedOutAt: Date | null;
    }
  >(
    db,
    sql`
    SELECT me.id, me.conversation_id AS "conversationId", me.turn_id AS "turnId", me.broadcast_id AS "broadcastId",
           me.type, me.body, me.payload, me.status, me.provider_message_id AS "providerMessageId",
           me.send_attempts AS "sendAttempts", me.send_after AS "sendAfter", me.send_as_template AS "sendAsTemplate",
           me.fallback_stage AS "fallbackStage", me.updated_at AS "updatedAt",
           ch.external_id AS "channelExternalId", cv.last_inbound_at AS "lastInboundAt",
           ct.wa_id AS "waId", ct.opted_out_at AS "optedOutAt",
           coalesce((
             SELECT CASE WHEN bool_or(other.status = 'queued' AND other.send_attempts > 0) THEN 'retrying' ELSE 'in_flight' END
             FROM messages other
             LEFT JOIN turns ot ON ot.id = other.turn_id
             WHERE other.conversation_id = me.conversation_id
               AND other.direction = 'outbound'
               AND other.status IN ('queued', 'sending')
               AND other.id <> me.id
               AND ((ot.seq < mt.seq OR (ot.id = mt.id AND other.reply_index < me.reply_index))
                 OR (me.turn_id IS NULL AND other.turn_id IS NULL AND me.broadcast_id IS NULL AND other.broadcast_id IS NULL
                   AND (other.created_at, other.reply_index) < (me.created_at, me.reply_index)))
             HAVING count(*) > 0), 'none') AS earlier
    FROM messages me
    JOIN channels ch ON ch.id = me.channel_id
    JOIN conversations cv ON cv.id = me.conversation_id
    JOIN contacts ct ON ct.id = cv.contact_id
    LEFT JOIN turns mt ON mt.id = me.turn_id
    WHERE me.id = ANY(${ids}::uuid[]) AND me.direction = 'outbound'`,
  );
  return new Map(
    rows.map(({ channelExternalId, lastInboundAt, waId, optedOutAt, ...message }) => [
      message.id,
      {
        ...message,
        channel: { externalId: channelExternalId },
        conversation: { lastInboundAt, contact: { waId, optedOutAt } },
      },
    ]),
  );
});

/**
 * Marks an outbound message as being sent and counts the attempt. A message still `queued` can
 * be claimed; one left `sending` only once its lease has run out (the attempt that set it died
 * mid-request, or gave up), so two attempts never send at once. Anything further along was
 * already sent and is never sent again. Concurrent sends share the statement (`coalescedWrite`).
 */
export async function claimForSending(db: Db, id: string, leaseMs: number): Promise<boolean> {
  return (await claimMany(db, { id, leaseMs })) === true;
}

const claimMany = coalescedWrite(async (db, claims: { id: string; leaseMs: number }[]) => {
  // The rows are locked in id order (two statements sharing rows cannot deadlock), and whether
  // each can be claimed is read from the locked row, its newest version. The update then finds
  // its rows by id alone: a condition on status there would let the planner read every queued
  // row through the status index, which is thousands while a backlog drains. Every lookup by id
  // says "= ANY(ids)", so the planner never trades it for a scan of the table.
  const ids = claims.map((c) => c.id);
  const { rows } = await query<{ id: string }>(
    db,
    sql`
    WITH locked AS (
      SELECT m.id,
             m.status = 'queued'
               OR (m.status = 'sending' AND m.updated_at < now() - make_interval(secs => c.lease_ms / 1000)) AS claimable
      FROM unnest(${ids}::uuid[], ${claims.map((c) => c.leaseMs)}::float8[]) AS c(id, lease_ms)
      JOIN messages m ON m.id = c.id AND m.direction = 'outbound'
      WHERE m.id = ANY(${ids}::uuid[])
      ORDER BY m.id FOR NO KEY UPDATE OF m)
    UPDATE messages m SET status = 'sending', send_attempts = m.send_attempts + 1, updated_at = now()
    FROM locked
    WHERE m.id = ANY(${ids}::uuid[]) AND m.id = locked.id AND locked.claimable
    RETURNING m.id`,
  );
  return new Map(rows.map((r) => [r.id, true as const]));
});

/**
 * Records what the provider accepted, in one statement. Returns the conversation's next messages
 * waiting to go out after this one (not for broadcasts, which keep no order): once this one is
 * sent they need not wait out their polling delay. Concurrent sends share the statement
 * (`coalescedWrite`); a record asked for twice at once is written once, and the second caller
 * gets no messages to wake (the first wakes them).
 */
export async function markSent(
  db: Db,
  id: string,
  providerMessageId: string,
  how: { viaChannelId?: string | undefined; asTemplate?: boolean | undefined } = {},
): Promise<string[]> {
  return (
    (await recordMany(db, {
      id,
      providerMessageId,
      viaChannelId: how.viaChannelId ?? null,
      asTemplate: how.asTemplate ?? false,
    })) ?? []
  );
}

export interface SentRecord {
  id: string;
  providerMessageId: string;
  viaChannelId: string | null;
  asTemplate: boolean;
}

/**
 * The record of `records` (`markSent`), one statement: exported so a test can ask PostgreSQL how
 * it plans it.
 */
export function recordSentStatement(records: SentRecord[]): Statement {
  // Every lookup by id says "= ANY(ids)": the planner's guess of a hundred rows from
  // jsonb_to_recordset would otherwise let it scan the table for a handful.
  const ids = records.map((r) => r.id);
  return sql`
  WITH sent_as AS (
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb)
      AS r(id uuid, "providerMessageId" text, "viaChannelId" uuid, "asTemplate" boolean)),
  -- Rows are locked in id order (two statements sharing rows cannot deadlock), and whether each
  -- is being sent is read from the locked row, its newest version: the update below finds its
  -- rows by id alone, never through the status index (see claimForSending).
  locked AS (
    SELECT m.id, m.status = 'sending' AS sending FROM messages m
    WHERE m.id = ANY(${ids}::uuid[]) ORDER BY m.id FOR NO KEY UPDATE),
  -- Evolution echoes what we send as a fromMe message with the same id; if the echo was stored
  -- before we got here, it is that same message: drop the copy, keep ours.
  echo AS (
    DELETE FROM messages echo USING sent_as, messages ours
    WHERE ours.id = ANY(${ids}::uuid[]) AND ours.id = sent_as.id AND echo.channel_id = ours.channel_id
      AND echo.provider_message_id = sent_as."providerMessageId" AND echo.id <> ours.id
      AND echo.direction = 'outbound' AND echo.turn_id IS NULL
    RETURNING echo.id),
  sent AS (
    UPDATE messages SET status = 'sent', provider_message_id = sent_as."providerMessageId", sent_at = now(),
      error_code = NULL, error_message = NULL, updated_at = now(),
      via_channel_id = coalesce(sent_as."viaChannelId", messages.via_channel_id),
      -- What went out: the template equivalent, not the free-form text kept in body.
      type = CASE WHEN sent_as."asTemplate" THEN 'template' ELSE messages.type END
    FROM sent_as, locked
    WHERE messages.id = ANY(${ids}::uuid[]) AND messages.id = sent_as.id AND messages.id = locked.id
      AND locked.sending
      -- Reading echo first makes the delete happen before this update takes the wamid.
      AND (SELECT count(*) FROM echo) >= 0
    RETURNING messages.id)
  -- Through the row itself, not sent: a retried record whose first try committed still wakes.
  SELECT me.id, coalesce(array_agg(other.id ORDER BY other.created_at, other.reply_index)
                         FILTER (WHERE other.id IS NOT NULL), '{}') AS next
  FROM messages me
  LEFT JOIN LATERAL (
    SELECT other.id, other.created_at, other.reply_index FROM messages other
    WHERE other.conversation_id = me.conversation_id AND me.broadcast_id IS NULL
      AND other.direction = 'outbound' AND other.status = 'queued' AND other.broadcast_id IS NULL
      AND other.id <> me.id
    ORDER BY other.created_at, other.reply_index
    LIMIT 2) other ON true
  WHERE me.id = ANY(${ids}::uuid[])
  GROUP BY me.id`;
}

const recordMany = coalescedWrite(async (db, records: SentRecord[]) => {
  const { rows } = await query<{ id: string; next: string[] }>(db, recordSentStatement(records));
  return new Map(rows.map((r) => [r.id, r.next]));
});

/** Puts a message back to `queued` with the error that made this attempt fail (it will be retried). */
export async function markSendRetrying(db: Db, id: string, error: { code: string; message: string }): Promise<void> {
  await db.message.updateMany({
    where: { id, status: 'sending' },
    data: { status: 'queued', errorCode: error.code, errorMessage: error.message },
  });
}

/**
 * Moves a message that failed for good one step along the fallback chain, back to `queued`:
 * `alternate` (the alternate provider sends it) or `requeued` (its one high-priority retry).
 */
export async function advanceFallback(
  db: Db,
  id: string,
  stage: 'alternate' | 'requeued',
  error: { code: string; message: string },
): Promise<boolean> {
  const { count } = await db.message.updateMany({
    where: { id, status: { in: ['queued', 'sending', 'failed'] } },
    data: { status: 'queued', fallbackStage: stage, errorCode: error.code, errorMessage: error.message },
  });
  return count === 1;
}

/** Meta refused free-form text outside the 24-hour window (131047): the next send uses the template equivalent. */
export async function markSendAsTemplate(
  db: Db,
  id: string,
  error: { code: string; message: string },
): Promise<boolean> {
  const { count } = await db.message.updateMany({
    where: { id, status: { in: ['queued', 'sending', 'failed'] } },
    data: { status: 'queued', sendAsTemplate: true, errorCode: error.code, errorMessage: error.message },
  });
  return count === 1;
}

/** Records that the operators were told about a message that could not be sent; false if they already were. */
export async function markAlerted(db: Db, id: string): Promise<boolean> {
  const { count } = await db.message.updateMany({ where: { id, alertedAt: null }, data: { alertedAt: new Date() } });
  return count === 1;
}

/** A message that must not go out any more (the contact opted out): `discarded` with the reason. */
export async function discardOutbound(db: Db, id: string, error: { code: string; message: string }): Promise<void> {
  await db.message.updateMany({
    where: { id, status: { in: ['queued', 'sending'] } },
    data: { status: 'discarded', errorCode: error.code, errorMessage: error.message },
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
        ? { status: 'queued', errorCode: null, errorMessage: null, failedAt: null, fallbackStage: null }
        : { status: 'discarded' },
  });
  return count === 1;
}

/**
 * Replays recent failures (`POST /api/monitoring/retry-failed`): every outbound message that
 * failed for good (`manual`) or was reported `failed` since `since` goes back to the outbox with
 * its fallback chain reset. Returns their ids, for the caller to queue.
 */
export async function requeueFailedSince(db: Db, since: Date, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    UPDATE messages SET status = 'queued', fallback_stage = NULL, failed_at = NULL, updated_at = now()
    WHERE id IN (
      SELECT id FROM messages
      WHERE direction = 'outbound' AND status IN ('manual', 'failed') AND failed_at >= ${since}
      ORDER BY failed_at LIMIT ${limit})
    RETURNING id`;
  return rows.map((r) => r.id);
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
     WHERE (channel_id = $1::uuid OR via_channel_id = $1::uuid) AND provider_message_id = $2 AND direction = 'outbound'`,
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

/** A conversation's outbound messages still to send, oldest first (re-queued after a crash). */
export function unsentOutbound(db: Db, conversationId: string) {
  return db.message.findMany({
    where: { conversationId, direction: 'outbound', status: { in: ['queued', 'sending'] } },
    orderBy: [{ createdAt: 'asc' }, { replyIndex: 'asc' }],
    select: { id: true },
  });
}

/**
 * Outbound messages left `queued` (or `sending`) for longer than `olderThanMs`, counting a delayed
 * send from when it was due: the outbox backstop.
 */
export async function findStaleOutbound(
  db: Db,
  { olderThanMs, limit }: { olderThanMs: number; limit: number },
): Promise<{ id: string; status: string }[]> {
  const before = new Date(Date.now() - olderThanMs);
  return (await query<{ id: string; status: string }>(db, staleOutboundStatement(before, limit))).rows;
}

/** `findStaleOutbound`'s statement: exported so a test can ask PostgreSQL how it plans it. */
export function staleOutboundStatement(before: Date, limit: number): Statement {
  // The direction and states are written into the SQL, not passed as parameters: only a plan
  // that sees them can read the partial index of unsent replies (messages_unsent_idx), and a
  // prepared statement's generic plan sees parameters as unknowns.
  return sql`
    SELECT id, status FROM messages
    WHERE direction = 'outbound' AND status IN ('queued', 'sending') AND updated_at < ${before}
      AND (send_after IS NULL OR send_after < ${before})
    ORDER BY created_at
    LIMIT ${limit}`;
}
