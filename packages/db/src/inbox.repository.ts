import { query, sql, type Db } from './client';

export type InboxKind = 'message' | 'status';

export interface NewInboxEvent {
  provider: string;
  kind: InboxKind;
  channelKey: string;
  dedupeKey: string;
  /** The contact's wa_id (messages only). */
  sender?: string | undefined;
  payload: unknown;
}

export interface RecordedInboxEvent {
  id: string;
  kind: InboxKind;
  provider: string;
  channelKey: string;
  dedupeKey: string;
}

/**
 * Writes a batch of inbox events in one statement and returns only the rows that are new:
 * a duplicate delivery from Meta (same provider, channel and dedupe key) returns nothing and is
 * therefore never queued twice. This insert is the webhook's commit point.
 */
export async function recordInboxEvents(db: Db, events: NewInboxEvent[]): Promise<RecordedInboxEvent[]> {
  if (events.length === 0) return [];
  // The batch travels as one JSON document: serialising it is one native JSON.stringify, where
  // six text arrays had node-postgres escape every payload character by character. A payload of
  // JSON null reads back as SQL NULL: it is stored as JSON null, never failing its batch-mates.
  const rows = events.map((e) => ({
    provider: e.provider,
    kind: e.kind,
    channel_key: e.channelKey,
    dedupe_key: e.dedupeKey,
    payload: e.payload,
    sender: e.sender ?? null,
  }));
  const { rows: recorded } = await query<RecordedInboxEvent>(db, {
    text: `INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, payload, sender)
     SELECT e.provider, e.kind, e.channel_key, e.dedupe_key, coalesce(e.payload, 'null'::jsonb), e.sender
     FROM jsonb_to_recordset($1::jsonb)
       AS e(provider text, kind text, channel_key text, dedupe_key text, payload jsonb, sender text)
     ON CONFLICT (provider, channel_key, dedupe_key) DO NOTHING
     RETURNING id, kind, provider, channel_key AS "channelKey", dedupe_key AS "dedupeKey"`,
    values: [jsonbText(rows)],
  });
  return recorded;
}

// What JSON.stringify writes for the characters a jsonb value cannot hold: U+0000, and a
// surrogate without its pair (JSON allows both; PostgreSQL refuses the whole document). Matches
// an escaped backslash followed by such text too, which only costs the careful path below.
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * `value` as JSON text PostgreSQL's jsonb accepts. A delivery with a NUL or a broken surrogate
 * in one string (a client's bug, or a fuzzer) would otherwise fail its whole batch, and Meta
 * would retry it for days while its other messages waited: each such character becomes U+FFFD,
 * the replacement character, in keys and values alike. The usual text is checked, not rebuilt.
 */
function jsonbText(value: unknown): string {
  const text = JSON.stringify(value);
  return UNSTORABLE_ESCAPE.test(text) ? JSON.stringify(storable(value)) : text;
}

const UNSTORABLE_CHARACTER = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Whether PostgreSQL refuses `text` in a text or jsonb value: it holds a NUL or a lone surrogate. */
export function isUnstorableText(text: string): boolean {
  return UNSTORABLE_ONE.test(text);
}

const UNSTORABLE_ONE = new RegExp(UNSTORABLE_CHARACTER.source);

function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE_CHARACTER, '\uFFFD');
  if (Array.isArray(value)) return value.map(storable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k) as string, storable(v)]));
  }
  return value;
}

/** A recorded inbox event as the worker reads it. */
export interface InboxEventRow {
  id: string;
  provider: string;
  kind: InboxKind;
  payload: unknown;
  receivedAt: Date;
  processedAt: Date | null;
  /** The order the webhook recorded events in. */
  seq: bigint;
}

/** The event a job names, or null. Every message and status reads one: a prepared statement. */
export async function getInboxEvent(db: Db, id: string): Promise<InboxEventRow | null> {
  const { rows } = await query<Omit<InboxEventRow, 'seq'> & { seq: string }>(
    db,
    sql`SELECT id, provider, kind, payload, received_at AS "receivedAt", processed_at AS "processedAt",
              seq::text AS seq
       FROM inbox_events WHERE id = ${id}::uuid`,
  );
  const row = rows[0];
  return row ? { ...row, seq: BigInt(row.seq) } : null;
}

/** The events a batch names, in one read; an id with no row is left out. */
export async function getInboxEvents(db: Db, ids: string[]): Promise<InboxEventRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await query<Omit<InboxEventRow, 'seq'> & { seq: string }>(
    db,
    sql`SELECT id, provider, kind, payload, received_at AS "receivedAt", processed_at AS "processedAt",
              seq::text AS seq
       FROM inbox_events WHERE id = ANY(${ids}::uuid[])`,
  );
  return rows.map((row) => ({ ...row, seq: BigInt(row.seq) }));
}

export async function markInboxProcessed(db: Pick<Db, 'inboxEvent'>, id: string): Promise<void> {
  await db.inboxEvent.updateMany({ where: { id, processedAt: null }, data: { processedAt: new Date() } });
}

/** Counts a re-queue against each event's `maxSweeps` (only jobs actually added again count). */
export async function countSweeps(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.inboxEvent.updateMany({ where: { id: { in: ids } }, data: { sweepCount: { increment: 1 } } });
}

export interface StaleInboxEvent {
  id: string;
  kind: InboxKind;
}

/**
 * Claims up to `limit` inbox events recorded more than `olderThanMs` ago and still unprocessed
 * (marking when they were looked at, so the next sweep within the grace period skips them).
 * `SKIP LOCKED` lets several sweepers run at once without handing out the same rows. Events
 * re-queued `maxSweeps` times (see `countSweeps`) are left alone: a poison event must not loop.
 */
export async function claimStaleInboxEvents(
  db: Db,
  { olderThanMs, limit, maxSweeps }: { olderThanMs: number; limit: number; maxSweeps: number },
): Promise<StaleInboxEvent[]> {
  return db.$queryRawUnsafe<StaleInboxEvent[]>(
    `UPDATE inbox_events SET last_swept_at = now()
     WHERE id IN (
       SELECT id FROM inbox_events
       WHERE processed_at IS NULL
         AND received_at < now() - make_interval(secs => $1::double precision / 1000)
         AND (last_swept_at IS NULL OR last_swept_at < now() - make_interval(secs => $1::double precision / 1000))
         AND sweep_count < $3
       ORDER BY received_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED)
     RETURNING id, kind`,
    olderThanMs,
    limit,
    maxSweeps,
  );
}
