import type { Db } from './client';

export interface TurnResult {
  engine: string;
  replies: { type: 'text'; body: string }[];
  tokensIn?: number | undefined;
  tokensOut?: number | undefined;
  latencyMs: number;
}

/**
 * Records a finished turn for `inputMessageIds` and its reply as outbound messages, in one
 * transaction. It claims the inputs first (only messages not yet answered by a turn): if another
 * worker got there first, nothing is written and `null` is returned, so a reply is never stored
 * twice for the same inbound message.
 */
export async function commitTurn(
  db: Db,
  {
    conversationId,
    channelId,
    inputMessageIds,
    input,
    result,
  }: {
    conversationId: string;
    channelId: string;
    inputMessageIds: string[];
    input: unknown;
    result: TurnResult;
  },
) {
  return db
    .$transaction(async (tx) => {
      // Serialise turns of one conversation so that seq numbers never collide.
      await tx.$queryRaw`SELECT id FROM conversations WHERE id = ${conversationId}::uuid FOR UPDATE`;
      const last = await tx.turn.findFirst({
        where: { conversationId },
        orderBy: { seq: 'desc' },
        select: { seq: true },
      });
      const turn = await tx.turn.create({
        data: {
          conversationId,
          seq: (last?.seq ?? 0) + 1,
          status: 'done',
          engine: result.engine,
          input: input as object,
          output: result.replies,
          tokensIn: result.tokensIn ?? null,
          tokensOut: result.tokensOut ?? null,
          latencyMs: result.latencyMs,
          completedAt: new Date(),
        },
      });
      const claimed = await tx.message.updateMany({
        where: { id: { in: inputMessageIds }, direction: 'inbound', turnId: null },
        data: { turnId: turn.id, status: 'answered' },
      });
      if (claimed.count !== inputMessageIds.length) {
        // Someone else answered (some of) these inputs: undo everything.
        throw new InputsAlreadyAnswered();
      }
      const outbound = [];
      for (const [index, reply] of result.replies.entries()) {
        outbound.push(
          await tx.message.create({
            data: {
              conversationId,
              channelId,
              direction: 'outbound',
              type: reply.type,
              body: reply.body,
              payload: reply,
              status: 'queued',
              turnId: turn.id,
              replyIndex: index,
            },
          }),
        );
      }
      return { turn, outbound };
    })
    .catch((error: unknown) => {
      if (error instanceof InputsAlreadyAnswered) return null;
      throw error;
    });
}

class InputsAlreadyAnswered extends Error {
  override name = 'InputsAlreadyAnswered';
}

/** The outbound messages of the turn that answered `inboundMessageId`, if one did. */
export async function repliesTo(db: Db, inboundMessageId: string) {
  const message = await db.message.findUnique({ where: { id: inboundMessageId }, select: { turnId: true } });
  if (!message?.turnId) return null;
  return db.message.findMany({
    where: { turnId: message.turnId, direction: 'outbound' },
    orderBy: { replyIndex: 'asc' },
  });
}
