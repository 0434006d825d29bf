import type { Db } from './client';
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

class TurnRejected extends Error {
  constructor(readonly reason: TurnRejection) {
    super(reason);
  }
}

/**
 * Records a turn and everything it decided, in one transaction: the turn row, its inputs marked
 * answered, the reply as `queued` outbound messages (the outbox), the new context, and a handoff
 * with one notification row per channel. It refuses (writing nothing) when a newer lock holder
 * has committed (the fencing token is not above the stored one) or when the inputs were answered
 * by another turn, so a reply is never stored twice and turns never interleave.
 */
export async function commitTurn(db: Db, commit: TurnCommit) {
  return db
    .$transaction(
      async (tx) => {
        const fenced = await tx.$executeRaw`
        UPDATE conversations SET
          turn_fence = ${commit.fence},
          context = COALESCE(${commit.context === undefined ? null : JSON.stringify(commit.context)}::jsonb, context),
          failed_turns = ${commit.failedTurns},
          state = CASE WHEN ${commit.handoff !== undefined} THEN 'human' ELSE state END,
          handed_off_at = CASE WHEN ${commit.handoff !== undefined} THEN now() ELSE handed_off_at END,
          last_activity_at = now(),
          updated_at = now()
        WHERE id = ${commit.conversationId}::uuid AND turn_fence < ${commit.fence}`;
        if (fenced !== 1) throw new TurnRejected('stale_fence');

        const last = await tx.turn.findFirst({
          where: { conversationId: commit.conversationId },
          orderBy: { seq: 'desc' },
          select: { seq: true },
        });
        const turn = await tx.turn.create({
          data: {
            conversationId: commit.conversationId,
            seq: (last?.seq ?? 0) + 1,
            fence: commit.fence,
            startedAt: commit.startedAt ?? new Date(),
            status: commit.result.status,
            engine: commit.result.engine,
            input: commit.input as Prisma.InputJsonValue,
            output: commit.result.replies,
            tokensIn: commit.result.tokensIn ?? null,
            tokensOut: commit.result.tokensOut ?? null,
            latencyMs: commit.result.latencyMs,
            error: commit.result.error ?? null,
            completedAt: new Date(),
          },
        });
        const claimed = await tx.message.updateMany({
          where: { id: { in: commit.inputMessageIds }, direction: 'inbound', turnId: null },
          data: { turnId: turn.id, status: 'answered' },
        });
        if (claimed.count !== commit.inputMessageIds.length) throw new TurnRejected('inputs_taken');

        const outbound = [];
        const rows = commit.outbound ?? commit.result.replies.map((r) => ({ type: r.type, body: r.body, payload: r }));
        for (const [index, row] of rows.entries()) {
          outbound.push(
            await tx.message.create({
              data: {
                conversationId: commit.conversationId,
                channelId: commit.channelId,
                direction: 'outbound',
                type: row.type,
                body: row.body,
                payload: row.payload as Prisma.InputJsonValue,
                status: 'queued',
                turnId: turn.id,
                replyIndex: index,
                sendAfter: commit.sendAfter ?? null,
              },
            }),
          );
        }

        if (commit.optedOut !== undefined) {
          const conversation = await tx.conversation.findUniqueOrThrow({ where: { id: commit.conversationId } });
          await tx.contact.update({
            where: { id: conversation.contactId },
            data: { optedOutAt: commit.optedOut ? new Date() : null },
          });
        }

        const handoff = commit.handoff
          ? await tx.handoff.create({
              data: {
                conversationId: commit.conversationId,
                reason: commit.handoff.reason,
                detail: commit.handoff.detail ?? null,
                notifications: { create: commit.handoff.channels.map((channel) => ({ channel })) },
              },
              include: { notifications: true },
            })
          : null;
        return { turn, outbound, handoff };
        // A loaded machine can take a while; Prisma's 5 s default would fail a turn that is merely slow.
      },
      { timeout: 20_000, maxWait: 10_000 },
    )
    .catch((error: unknown) => {
      if (error instanceof TurnRejected) return { rejected: error.reason } as const;
      throw error;
    });
}

/** Inbound messages not yet answered by a turn, in the order they are answered. */
export function pendingMessages(db: Db, conversationId: string) {
  return db.message.findMany({
    where: { conversationId, direction: 'inbound', turnId: null, status: 'received' },
    orderBy: [{ waTimestamp: 'asc' }, { arrivedAt: 'asc' }, { arrivalSeq: 'asc' }, { createdAt: 'asc' }],
  });
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

/** The highest fencing token a turn of this conversation committed with (0 if none). */
export async function turnFenceOf(db: Db, conversationId: string): Promise<number> {
  const row = await db.conversation.findUnique({ where: { id: conversationId }, select: { turnFence: true } });
  return Number(row?.turnFence ?? 0);
}
