import { DatabaseError } from 'pg';
import { coalescedRead, coalescedWrite } from './coalesced';
import { query, sql, type Db, type Statement } from './client';
import type { Prisma } from './generated/prisma/client';

export interface TurnResult {
  engine: string;
  /** `failed` when the engine could not answer and the reply is an apology. */
  status: 'done' | 'failed';
  replies: { type: 'text'; body: string }[];
  tokensIn?: number | undefined;
  tokensOut?: number | undefined;
  latencyMs: number;
  error?: string | undefined;
}

export interface TurnCommit {
  conversationId: string;
  channelId: string;
  /** The fencing token of the conversation lock this turn holds. */
  fence: number;
  /**
   * The conversation's fencing token when this turn read it (its context, state and failed
   * turns): the commit is refused if another turn committed since. Unset: no such check.
   */
  seenFence?: number | undefined;
  /** When the turn took the lock (defaults to now). */
  startedAt?: Date | undefined;
  inputMessageIds: string[];
  input: unknown;
  result: TurnResult;
  /** The conversation's context after this turn (replaces the stored one). */
  context?: Prisma.InputJsonValue | undefined;
  /** Consecutive failed turns after this one. */
  failedTurns: number;
  /** Hand the conversation to a person, notifying on these channels. */
  handoff?: { reason: string; detail?: string | undefined; channels: string[] } | undefined;
  /** true: the contact opted out; false: opted back in. */
  optedOut?: boolean | undefined;
  /** The outbound rows the reply becomes (default: one text row per reply). */
  outbound?: { type: string; body: string; payload: unknown }[] | undefined;
  /** The reply is not sent before this time (a typing pause). */
  sendAfter?: Date | undefined;
}

/** Why a turn was not committed; nothing was written. */
export type TurnRejection = 'stale_fence' | 'inputs_taken';

export interface CommittedTurn {
  turn: { id: string; seq: number };
  /** The reply's outbound rows, in order. */
  outbound: { id: string }[];
  handoff: { id: string; reason: string; notifications: { id: string; channel: string }[] } | null;
}

/**
 * Records a turn and everything it decided, in one statement (one round trip, and atomic): the
 * turn row, its inputs marked answered, the reply as `queued` outbound messages (the outbox), the
 * new context, and a handoff with one notification row per channel. It refuses (writing nothing)
 * when a newer lock holder has committed (the fencing token is not above the stored one, or the
 * stored one is no longer `seenFence`, the one this turn read), when a person has the
 * conversation, or when the inputs were answered by another turn, so a reply is never stored
 * twice and turns never interleave.
 */
export async function commitTurn(db: Db, commit: TurnCommit): Promise<CommittedTurn | { rejected: TurnRejection }> {
  // A handoff or an opt-out is rare and writes more tables: it commits alone.
  if (commit.handoff || commit.optedOut !== undefined) return commitTurnAlone(db, commit);
  const shared = await commitShared(db, { ...commit, id: commit.conversationId });
  // Undefined: its conversation was twice in one statement; this one commits after the other.
  return shared ?? commitTurnAlone(db, commit);
}

type CommitAnswer = CommittedTurn | { rejected: TurnRejection };

/**
 * Plain turns (a reply, no handoff or opt-out) committed at the same moment share one statement
 * (`coalescedWrite`): `commitTurnAlone`'s steps over many rows, each row with its own fence,
 * inputs and reply. A turn refused for its fence or state writes nothing and the others commit;
 * so does one that another turn committed before while the statement waited for the row. A
 * refusal only the whole statement can make (inputs answered by another turn) raises, which
 * undoes it: then each turn commits alone, as before, and gets its own answer.
 */
const commitShared = coalescedWrite<TurnCommit & { id: string }, CommitAnswer>(commitTogether, {
  alone: commitTurnAlone,
});

async function commitTogether(db: Db, commits: TurnCommit[]): Promise<Map<string, CommitAnswer>> {
  const ids = commits.map((c) => c.conversationId);
  const rows = commits.map((c) => ({
    conversationId: c.conversationId,
    channelId: c.channelId,
    fence: c.fence,
    seenFence: c.seenFence ?? null,
    startedAt: c.startedAt ?? new Date(),
    status: c.result.status,
    engine: c.result.engine,
    input: c.input ?? [],
    output: c.result.replies,
    tokensIn: c.result.tokensIn ?? null,
    tokensOut: c.result.tokensOut ?? null,
    latencyMs: c.result.latencyMs,
    error: c.result.error ?? null,
    context: c.context ?? null,
    failedTurns: c.failedTurns,
    inputMessageIds: c.inputMessageIds,
    outbound: outboundRows(c),
    sendAfter: c.sendAfter ?? null,
  }));
  const { rows: committed } = await query<{
    conversationId: string;
    id: string | null;
    seq: number | null;
    outbound: { id: string }[];
  }>(
    db,
    sql`
    WITH c AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS c(
        "conversationId" uuid, "channelId" uuid, fence bigint, "seenFence" bigint, "startedAt" timestamptz,
        status text, engine text, input jsonb, output jsonb, "tokensIn" int, "tokensOut" int, "latencyMs" int,
        error text, context jsonb, "failedTurns" int, "inputMessageIds" uuid[], outbound jsonb,
        "sendAfter" timestamptz)),
    -- Conversations are locked in id order, so two statements sharing one cannot deadlock. A
    -- locked row is its newest version, while the rest of the statement reads its snapshot.
    -- Every lookup by id says "= ANY(ids)": the planner's guess of a hundred rows from
    -- jsonb_to_recordset would otherwise have it scan all of conversations for a handful.
    locked AS (
      SELECT cv.id, cv.turn_fence FROM conversations cv WHERE cv.id = ANY(${ids}::uuid[])
      ORDER BY cv.id FOR NO KEY UPDATE),
    fenced AS (
      UPDATE conversations cv SET
        turn_fence = c.fence,
        context = coalesce(c.context, cv.context),
        failed_turns = c."failedTurns",
        last_activity_at = now(),
        updated_at = now()
      FROM c, locked
      WHERE cv.id = ANY(${ids}::uuid[]) AND cv.id = c."conversationId" AND locked.id = cv.id AND cv.turn_fence < c.fence
        AND (c."seenFence" IS NULL OR cv.turn_fence = c."seenFence")
        AND cv.state = 'bot'
        -- Another turn committed after this statement's snapshot (it waited for that turn's row
        -- lock): the turn number it would read is taken and its view is stale. Refused, as alone.
        AND locked.turn_fence = (SELECT s.turn_fence FROM conversations s WHERE s.id = cv.id)
      RETURNING cv.id),
    turn AS (
      INSERT INTO turns (conversation_id, seq, fence, started_at, status, engine, input, output, tokens_in, tokens_out,
                         latency_ms, error, completed_at)
      SELECT c."conversationId",
             coalesce((SELECT max(seq) FROM turns t WHERE t.conversation_id = c."conversationId"), 0) + 1,
             c.fence, c."startedAt", c.status, c.engine, c.input, c.output, c."tokensIn", c."tokensOut",
             c."latencyMs", c.error, now()
      FROM c JOIN fenced ON fenced.id = c."conversationId"
      RETURNING id, seq, conversation_id),
    claimed AS (
      UPDATE messages SET turn_id = turn.id, status = 'answered', updated_at = now()
      FROM turn JOIN c ON c."conversationId" = turn.conversation_id
      WHERE messages.id = ANY(c."inputMessageIds") AND messages.direction = 'inbound' AND messages.turn_id IS NULL
        AND messages.conversation_id = turn.conversation_id AND messages.status = 'received'
      RETURNING messages.turn_id),
    outbound AS (
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, status, turn_id, reply_index,
                            send_after)
      SELECT turn.conversation_id, c."channelId", 'outbound', r.value ->> 'type', r.value ->> 'body', r.value -> 'payload',
             'queued', turn.id, r.n - 1, c."sendAfter"
      FROM turn JOIN c ON c."conversationId" = turn.conversation_id,
           jsonb_array_elements(c.outbound) WITH ORDINALITY AS r(value, n)
      RETURNING id, turn_id, reply_index)
    SELECT c."conversationId", turn.id, turn.seq,
           -- Another turn answered some of a turn's inputs: undo everything this statement wrote.
           CASE WHEN turn.id IS NOT NULL
                 AND (SELECT count(*) FROM claimed WHERE claimed.turn_id = turn.id) <> cardinality(c."inputMessageIds")
             THEN zapflow_reject('inputs_taken') END AS rejected,
           (SELECT coalesce(json_agg(json_build_object('id', o.id) ORDER BY o.reply_index), '[]')
            FROM outbound o WHERE o.turn_id = turn.id) AS outbound
    FROM c LEFT JOIN turn ON turn.conversation_id = c."conversationId"`,
  );
  return new Map(
    committed.map(({ conversationId, id, seq, outbound }): [string, CommitAnswer] => [
      conversationId,
      id === null || seq === null ? { rejected: 'stale_fence' } : { turn: { id, seq }, outbound, handoff: null },
    ]),
  );
}

/** The outbound rows a turn's reply becomes (default: one text row per reply). */
function outboundRows(commit: TurnCommit): { type: string; body: string; payload: unknown }[] {
  return commit.outbound ?? commit.result.replies.map((r) => ({ type: r.type, body: r.body, payload: r }));
}

/** `commitTurn` as one statement of its own. */
async function commitTurnAlone(db: Db, commit: TurnCommit): Promise<CommittedTurn | { rejected: TurnRejection }> {
  const rows = outboundRows(commit);
  const handoff = commit.handoff;
  try {
    const {
      rows: [row],
    } = await query<Omit<CommittedTurn, 'turn'> & { id: string; seq: number }>(
      db,
      sql`
      WITH fenced AS (
        UPDATE conversations SET
          turn_fence = ${commit.fence},
          context = coalesce(${commit.context === undefined ? null : JSON.stringify(commit.context)}::jsonb, context),
          failed_turns = ${commit.failedTurns},
          state = CASE WHEN ${handoff !== undefined} THEN 'human' ELSE state END,
          handed_off_at = CASE WHEN ${handoff !== undefined} THEN now() ELSE handed_off_at END,
          last_activity_at = now(),
          updated_at = now()
        WHERE id = ${commit.conversationId}::uuid AND turn_fence < ${commit.fence}
          AND (${commit.seenFence ?? null}::bigint IS NULL OR turn_fence = ${commit.seenFence ?? null}::bigint)
          -- A person took the conversation meanwhile: the bot stays silent.
          AND state = 'bot'
        RETURNING id, contact_id),
      turn AS (
        INSERT INTO turns (conversation_id, seq, fence, started_at, status, engine, input, output, tokens_in, tokens_out,
                           latency_ms, error, completed_at)
        SELECT id, coalesce((SELECT max(seq) FROM turns WHERE conversation_id = ${commit.conversationId}::uuid), 0) + 1,
               ${commit.fence}, ${commit.startedAt ?? new Date()}, ${commit.result.status}, ${commit.result.engine},
               ${JSON.stringify(commit.input ?? [])}::jsonb, ${JSON.stringify(commit.result.replies)}::jsonb,
               ${commit.result.tokensIn ?? null}::int, ${commit.result.tokensOut ?? null}::int,
               ${commit.result.latencyMs}::int, ${commit.result.error ?? null}, now()
        FROM fenced
        RETURNING id, seq),
      claimed AS (
        UPDATE messages SET turn_id = turn.id, status = 'answered', updated_at = now()
        FROM turn
        WHERE messages.id = ANY(${commit.inputMessageIds}::uuid[]) AND messages.direction = 'inbound'
          AND messages.turn_id IS NULL
          -- Said although implied: the statement is prepared once and its plan reused, and these
          -- lead the planner to the conversation's pending messages, not every unanswered row.
          AND messages.conversation_id = ${commit.conversationId}::uuid AND messages.status = 'received'
        RETURNING messages.id),
      outbound AS (
        INSERT INTO messages (conversation_id, channel_id, direction, type, body, payload, status, turn_id, reply_index,
                              send_after)
        SELECT ${commit.conversationId}::uuid, ${commit.channelId}::uuid, 'outbound', r.type, r.body, r.payload::jsonb,
               'queued', turn.id, r.n - 1, ${commit.sendAfter ?? null}::timestamptz
        FROM turn, unnest(${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.body)}::text[],
                          ${rows.map((r) => JSON.stringify(r.payload))}::text[]) WITH ORDINALITY AS r(type, body, payload, n)
        RETURNING id, reply_index),
      opted AS (
        UPDATE contacts SET opted_out_at = CASE WHEN ${commit.optedOut ?? null}::boolean THEN now() END, updated_at = now()
        FROM fenced
        WHERE contacts.id = fenced.contact_id AND ${commit.optedOut ?? null}::boolean IS NOT NULL
        RETURNING contacts.id),
      handoff AS (
        INSERT INTO handoffs (conversation_id, reason, detail)
        SELECT id, ${handoff?.reason ?? null}, ${handoff?.detail ?? null} FROM fenced WHERE ${handoff !== undefined}
        RETURNING id, reason),
      notifications AS (
        INSERT INTO handoff_notifications (handoff_id, channel)
        SELECT handoff.id, c FROM handoff, unnest(${handoff?.channels ?? []}::text[]) AS c
        RETURNING id, channel)
      SELECT turn.id, turn.seq,
             -- Another turn answered some of the inputs: undo everything this statement wrote.
             CASE WHEN (SELECT count(*) FROM claimed) <> ${commit.inputMessageIds.length}
               THEN zapflow_reject('inputs_taken') END AS rejected,
             (SELECT coalesce(json_agg(json_build_object('id', id) ORDER BY reply_index), '[]') FROM outbound) AS outbound,
             (SELECT json_build_object('id', h.id, 'reason', h.reason, 'notifications',
                (SELECT coalesce(json_agg(json_build_object('id', n.id, 'channel', n.channel)), '[]') FROM notifications n))
              FROM handoff h) AS handoff
      FROM turn`,
    );
    if (!row) return { rejected: 'stale_fence' };
    return { turn: { id: row.id, seq: row.seq }, outbound: row.outbound, handoff: row.handoff };
  } catch (error) {
    if (!(error instanceof DatabaseError)) throw error;
    if (error.code === 'ZF001' && error.message.endsWith('inputs_taken')) return { rejected: 'inputs_taken' };
    // A turn committed after this statement's snapshot (it waited for that turn's row lock, and
    // its fence was higher): the turn number it read is taken. Its view is stale; refuse it.
    if (error.code === '23505' && error.constraint === 'turns_conversation_id_seq_key') {
      return { rejected: 'stale_fence' };
    }
    throw error;
  }
}

/** A message as a turn reads it. */
export interface TurnMessage {
  id: string;
  direction: string;
  type: string;
  body: string | null;
  status: string;
  providerMessageId: string | null;
  waTimestamp: Date | null;
  arrivedAt: Date | null;
  createdAt: Date;
}

export interface TurnInputs {
  /** Inbound messages not yet answered by a turn, in the order they are answered. */
  pending: TurnMessage[];
  /** The conversation's most recent messages, oldest first (pending ones included). */
  history: TurnMessage[];
  /**
   * A message of this contact reached the webhook before the newest pending one (and within the
   * last `unstoredWithinMs`) but is not stored yet: the turn must wait for it. Older ones are left
   * to the sweeper: a stuck event must not stall the conversation.
   */
  earlierUnstored: boolean;
  /** The conversation's state as of this read (after the turn took its lock): `bot` or `human`. */
  state: string;
}

/**
 * Everything a turn reads about its messages, in one statement. One snapshot also makes the
 * "earlier message not stored yet" check exact: a message is stored in the same statement that
 * marks its inbox event processed, so it is either among the pending rows or its event is still
 * unprocessed here, never neither. Concurrent turns share the statement (`coalescedRead`); it is
 * read after the turn took its lock, never before, so it sees what the previous turn committed.
 */
export async function readTurnInputs(
  db: Db,
  {
    conversationId,
    historyLimit,
    unstoredWithinMs,
  }: {
    conversationId: string;
    historyLimit: number;
    unstoredWithinMs: number;
  },
): Promise<TurnInputs> {
  const key = `${historyLimit}/${unstoredWithinMs}`;
  let read = turnInputReaders.get(key);
  if (!read) {
    read = coalescedRead((db, ids) => readManyTurnInputs(db, ids, historyLimit, unstoredWithinMs));
    turnInputReaders.set(key, read);
  }
  // No rows at all: nothing pending and no history, so nothing to decide; 'bot' is moot.
  return (await read(db, conversationId)) ?? { pending: [], history: [], earlierUnstored: false, state: 'bot' };
}

const turnInputReaders = new Map<string, (db: Db, id: string) => Promise<TurnInputs | undefined>>();

/**
 * The turns' inputs read (`readManyTurnInputs`) for `conversationIds`, one statement: exported so
 * a test can ask PostgreSQL how it plans it.
 */
export function turnInputsStatement(
  conversationIds: string[],
  historyLimit: number,
  unstoredWithinMs: number,
): Statement {
  // The inbox records the sender as the webhook saw it: the channel's provider and external id
  // and the contact's wa_id, or its BSUID for a message that came with that alone.
  return sql`
  SELECT c.id AS "conversationId", r.part, r.id, r.direction, r.type, r.body, r.status,
         r.provider_message_id AS "providerMessageId", r.wa_timestamp AS "waTimestamp",
         r.arrived_at AS "arrivedAt", r.created_at AS "createdAt", r.earlier_unstored AS "earlierUnstored", r.state
  FROM unnest(${conversationIds}::uuid[]) AS c(id)
  CROSS JOIN LATERAL (
    WITH pending AS (
      SELECT * FROM messages
      WHERE conversation_id = c.id AND direction = 'inbound' AND turn_id IS NULL AND status = 'received'),
    history AS (
      SELECT * FROM messages WHERE conversation_id = c.id ORDER BY created_at DESC LIMIT ${historyLimit}),
    who AS (
      SELECT ch.provider, ch.external_id, ct.wa_id, ct.user_id, cv.state
      FROM conversations cv JOIN channels ch ON ch.id = cv.channel_id JOIN contacts ct ON ct.id = cv.contact_id
      WHERE cv.id = c.id),
    flag AS (
      -- LATERAL, so the contact's values are known when the inbox is read: as a plain join
      -- the planner could scan every unprocessed event and filter them by sender, which with
      -- statistics that have not seen a backlog is the whole backlog for every turn.
      -- By each of the contact's ids in turn: an IN of the two is not an index condition.
      SELECT EXISTS (
        SELECT 1 FROM who CROSS JOIN LATERAL unnest(ARRAY[who.wa_id, who.user_id]) AS id(sender)
        CROSS JOIN LATERAL (
          SELECT 1 FROM inbox_events e
          WHERE e.processed_at IS NULL AND e.kind = 'message' AND e.provider = who.provider
            AND e.channel_key = who.external_id AND e.sender = id.sender
            AND e.received_at <= (SELECT max(coalesce(arrived_at, created_at)) FROM pending)
            AND e.received_at > now() - make_interval(secs => ${unstoredWithinMs}::double precision / 1000)
          LIMIT 1) earlier
      ) AS earlier_unstored,
      (SELECT state FROM who) AS state),
    parts AS (
      SELECT 'pending' AS part, 0 AS part_order, p.* FROM pending p
      UNION ALL SELECT 'history', 1, h.* FROM history h)
    SELECT parts.*, flag.earlier_unstored, flag.state FROM parts, flag) r
  ORDER BY c.id, r.part_order, r.wa_timestamp, r.arrived_at, r.arrival_seq, r.created_at`;
}

async function readManyTurnInputs(
  db: Db,
  conversationIds: string[],
  historyLimit: number,
  unstoredWithinMs: number,
): Promise<Map<string, TurnInputs>> {
  type Row = TurnMessage & {
    conversationId: string;
    part: 'pending' | 'history';
    earlierUnstored: boolean;
    state: string;
  };
  const { rows } = await query<Row>(db, turnInputsStatement(conversationIds, historyLimit, unstoredWithinMs));
  const byConversation = new Map<string, Row[]>();
  for (const row of rows) {
    const list = byConversation.get(row.conversationId);
    if (list) list.push(row);
    else byConversation.set(row.conversationId, [row]);
  }
  const strip = ({
    conversationId: _c,
    part: _part,
    earlierUnstored: _flag,
    state: _state,
    ...message
  }: Row): TurnMessage => message;
  return new Map(
    [...byConversation].map(([conversationId, list]): [string, TurnInputs] => [
      conversationId,
      {
        pending: list.filter((r) => r.part === 'pending').map(strip),
        history: list
          .filter((r) => r.part === 'history')
          .map(strip)
          .sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime()),
        earlierUnstored: list[0]!.earlierUnstored,
        state: list[0]!.state,
      },
    ]),
  );
}

/** When the oldest pending message of a conversation was stored (for the debounce's maximum wait). */
export async function oldestPendingAt(db: Db, conversationId: string): Promise<Date | null> {
  const oldest = await db.message.findFirst({
    where: { conversationId, direction: 'inbound', turnId: null, status: 'received' },
    orderBy: [{ arrivedAt: 'asc' }, { createdAt: 'asc' }],
    select: { createdAt: true, arrivedAt: true },
  });
  return oldest ? (oldest.arrivedAt ?? oldest.createdAt) : null;
}

/** Marks messages that arrived while a person had the conversation: stored, never answered by the bot. */
export async function markForHuman(db: Db, messageIds: string[]): Promise<void> {
  await db.message.updateMany({
    where: { id: { in: messageIds }, turnId: null, status: 'received' },
    data: { status: 'human' },
  });
}

/** Conversations with a message unanswered for longer than `olderThanMs` (their turn was lost). */
export async function stalePendingConversations(
  db: Db,
  { olderThanMs, limit }: { olderThanMs: number; limit: number },
) {
  return db.$queryRaw<{ conversationId: string }[]>`
    SELECT DISTINCT conversation_id AS "conversationId"
    FROM messages
    WHERE direction = 'inbound' AND turn_id IS NULL AND status = 'received'
      AND created_at < now() - make_interval(secs => ${olderThanMs}::double precision / 1000)
    LIMIT ${limit}`;
}
