import {
  commitTurn,
  getConversation,
  markForHuman,
  readTurnInputs,
  recordInterests,
  unsentOutbound,
  type Db,
  type TurnMessage,
  type TurnResult,
} from '@zapflow/db';
import type { FencedLock, Idempotency } from '@zapflow/idempotency';
import type { Logger } from '@zapflow/logger';
import { errorFields } from '@zapflow/logger';
import type { highQueue, Producer, sendQueue } from '@zapflow/queue-contracts';
import type { ReadReceipt } from '@zapflow/whatsapp';
import type { ConversationContext, ConversationEngine, EngineReply } from './conversation/engine';
import { looksEnglish, OPT_REPLIES, optRequest } from './conversation/opt-out';
import { outboundRows, replyTemplate } from '@zapflow/whatsapp';
import type { DebounceOptions } from './turn-scheduler';

export interface TurnDeps {
  db: Db;
  locks: FencedLock;
  idempotency: Idempotency;
  engine: ConversationEngine;
  send: Producer<typeof sendQueue.schema>;
  notify: Producer<typeof highQueue.schema>;
  logger: Logger;
  debounce: DebounceOptions;
  /** Consecutive failed turns before a person takes over. */
  handoffAfterFailedTurns: number;
  /** Configured notification channels (email, crm, whatsapp). */
  handoffChannels: string[];
  /** How replies go out: split past `maxTextChars`, after `delayMs`, with a template equivalent. */
  replies: { maxTextChars: number; delayMs: number; template?: { name: string; language: string } | undefined };
  /** Marks the contact's message read and shows "typing…" while the engine works (off: unset). */
  markRead?: ((receipt: ReadReceipt) => Promise<void>) | undefined;
}

export type TurnOutcome =
  /** Another turn of this conversation holds the lock: try again shortly. */
  | { kind: 'busy' }
  /** The burst is still open, or an earlier message is on its way: run again at `until` (epoch ms). */
  | { kind: 'wait'; until: number; reason: 'typing' | 'earlier_message_unstored' }
  /** Nothing to answer. */
  | { kind: 'idle' }
  /** A person has the conversation: messages stored, bot silent. */
  | { kind: 'with_human'; messages: number }
  | { kind: 'answered'; turnId: string; seq: number; inputs: number; replies: number; handoff: boolean }
  /** A newer turn committed first, or took the inputs: nothing written. */
  | { kind: 'superseded' };

/**
 * Blue ticks and "typing…" on the newest message, while the engine works. A courtesy: it runs
 * beside the turn, and its failure is only logged.
 */
function showTyping(
  deps: TurnDeps,
  conversation: { channel: { externalId: string }; contact: { waId: string } },
  pending: TurnMessage[],
  log: Logger,
): void {
  const newest = pending.findLast((m) => m.providerMessageId);
  if (!deps.markRead || !newest?.providerMessageId) return;
  deps
    .markRead({
      channelExternalId: conversation.channel.externalId,
      from: conversation.contact.waId,
      providerMessageId: newest.providerMessageId,
      typing: true,
    })
    .catch((error: unknown) => log.warn('could not mark the message read', errorFields(error)));
}

/** How long a recorded-but-unstored message of the contact holds its turn back (see below). */
const UNSTORED_GRACE_MS = 30_000;
/** How many of the conversation's latest messages the engine reads. */
const HISTORY_MESSAGES = 20;

/** Another worker is asking the engine about these same messages (its lock expired): retry later. */
export class TurnComputingElsewhere extends Error {
  override name = 'TurnComputingElsewhere';
}

const APOLOGY = {
  pt: 'Desculpe, tive um problema para responder agora. Pode repetir daqui a pouco?',
  en: 'Sorry, I had a problem answering just now. Could you try again in a moment?',
};
const HANDOFF_AFTER_FAILURES = {
  pt: 'Vou chamar uma pessoa da nossa equipe para continuar o atendimento. Um momento, por favor.',
  en: "I'll bring in someone from our team to help you. One moment, please.",
};

/**
 * One turn of a conversation: take its lock, read every unanswered message in order, decide the
 * answer (opt-out/opt-in first, then the engine), and commit it all at once with the lock's
 * fencing token. A retried turn finds its inputs answered and sends nothing twice; an engine
 * answer already computed for the same inputs is reused rather than asked again.
 */
export async function runTurn(deps: TurnDeps, conversationId: string): Promise<TurnOutcome> {
  // Read before the lock, to give the lock a fencing floor; the commit is refused if another turn
  // commits in between (seenFence), so what this read says is what the turn decides on.
  const conversation = await getConversation(deps.db, conversationId);
  const seenFence = Number(conversation.turnFence);
  const lock = await deps.locks.acquire(`conv-${conversationId}`, seenFence);
  if (!lock) return { kind: 'busy' };
  const log = deps.logger.child({ conversationId, fence: lock.fence });
  const startedAt = new Date();
  try {
    const { pending, history, earlierUnstored, state } = await readTurnInputs(deps.db, {
      conversationId,
      historyLimit: HISTORY_MESSAGES,
      unstoredWithinMs: UNSTORED_GRACE_MS,
    });
    if (pending.length === 0) {
      // A crash after the last commit may have left its replies unqueued.
      await queueUnsent(deps, conversationId);
      return { kind: 'idle' };
    }
    const wait = stillTyping(pending, deps.debounce, Date.now());
    if (wait) return { kind: 'wait', until: wait, reason: 'typing' };
    // Order: a message of this contact that reached the webhook before the newest pending one,
    // but is not stored yet, must be in this turn. Wait for it. (Messages that arrived later
    // are simply the next turn's: a busy pipeline must not hold a contact past the maximum wait.)
    if (earlierUnstored) return { kind: 'wait', until: Date.now() + 100, reason: 'earlier_message_unstored' };

    // The state as read after the lock: an operator may have taken or given back the conversation.
    if (state !== 'bot') {
      await markForHuman(
        deps.db,
        pending.map((m) => m.id),
      );
      log.info('conversation is with a person; messages stored, bot silent', { messages: pending.length });
      return { kind: 'with_human', messages: pending.length };
    }

    showTyping(deps, conversation, pending, log);
    const context = (conversation.context ?? {}) as ConversationContext;
    const language = looksEnglish(pending.map((m) => m.body)) ? 'en' : (context.language ?? 'pt');
    const decision = await decide(deps, { conversation, seenFence, pending, history, context, language, log });
    if (!lock.held) throw new Error(`lost the lock of conversation ${conversationId} mid-turn; retrying`);

    const committed = await commitTurn(deps.db, {
      conversationId,
      channelId: conversation.channelId,
      fence: lock.fence,
      seenFence,
      startedAt,
      inputMessageIds: pending.map((m) => m.id),
      input: pending.map((m) => ({ messageId: m.id, type: m.type, text: m.body, at: m.waTimestamp })),
      result: decision.result,
      context: decision.context as object | undefined,
      failedTurns: decision.failedTurns,
      handoff: decision.handoff && { ...decision.handoff, channels: deps.handoffChannels },
      optedOut: decision.optedOut,
      outbound: decision.result.replies.flatMap((reply) =>
        outboundRows(
          { type: 'text', text: reply.body },
          {
            maxTextChars: deps.replies.maxTextChars,
            windowTemplate: replyTemplate(reply.body, deps.replies.template),
          },
        ),
      ),
      sendAfter: deps.replies.delayMs ? new Date(Date.now() + deps.replies.delayMs) : undefined,
    });
    if ('rejected' in committed) {
      log.warn('turn not committed', { reason: committed.rejected });
      return { kind: 'superseded' };
    }
    await deps.send.addBulk(
      committed.outbound.map((m) => ({ messageId: m.id })),
      deps.replies.delayMs ? { delay: deps.replies.delayMs } : {},
    );
    if (committed.handoff) {
      await deps.notify.addBulk(committed.handoff.notifications.map((n) => ({ notificationId: n.id })));
      log.info('conversation handed to a person', {
        handoffId: committed.handoff.id,
        reason: committed.handoff.reason,
        channels: deps.handoffChannels,
      });
    }
    if (decision.interests.length) await recordInterests(deps.db, conversation.contactId, decision.interests);
    log.info('turn done', {
      turnId: committed.turn.id,
      seq: committed.turn.seq,
      engine: decision.result.engine,
      status: decision.result.status,
      inputs: pending.length,
      replies: committed.outbound.length,
      latencyMs: decision.result.latencyMs,
    });
    return {
      kind: 'answered',
      turnId: committed.turn.id,
      seq: committed.turn.seq,
      inputs: pending.length,
      replies: committed.outbound.length,
      handoff: committed.handoff !== null,
    };
  } finally {
    await lock.release();
  }
}

/** The time to run again if the contact may still be typing, else null. */
export function stillTyping(
  pending: Pick<TurnMessage, 'createdAt'>[],
  options: DebounceOptions,
  now: number,
): number | null {
  const times = pending.map((m) => m.createdAt.getTime());
  const quietAt = Math.max(...times) + options.debounceMs;
  const deadline = Math.min(...times) + options.maxWaitMs;
  return now < quietAt && now < deadline ? Math.min(quietAt, deadline) : null;
}

interface Decision {
  result: TurnResult;
  context?: ConversationContext | undefined;
  failedTurns: number;
  handoff?: { reason: string; detail?: string | undefined } | undefined;
  optedOut?: boolean | undefined;
  interests: string[];
}

async function decide(
  deps: TurnDeps,
  {
    conversation,
    seenFence,
    pending,
    history,
    context,
    language,
    log,
  }: {
    conversation: Awaited<ReturnType<typeof getConversation>>;
    seenFence: number;
    pending: TurnMessage[];
    history: TurnMessage[];
    context: ConversationContext;
    language: 'pt' | 'en';
    log: Logger;
  },
): Promise<Decision> {
  const started = Date.now();
  const request = optRequest(pending.map((m) => m.body));
  if (request === 'out' || (request === 'in' && conversation.contact.optedOutAt)) {
    return {
      result: {
        engine: 'opt-out',
        status: 'done',
        replies: [{ type: 'text', body: OPT_REPLIES[request][language] }],
        latencyMs: 0,
      },
      context: { ...context, language },
      failedTurns: conversation.failedTurns,
      optedOut: request === 'out',
      interests: [],
    };
  }

  let reply: EngineReply;
  try {
    reply = await engineReplyOnce(deps, conversation, { seenFence, pending, history }, context, log);
  } catch (error) {
    if (!(error instanceof EngineFailure)) throw error;
    const failedTurns = conversation.failedTurns + 1;
    const handOff = failedTurns >= deps.handoffAfterFailedTurns;
    log.error('engine failed; answering with an apology', {
      engine: deps.engine.name,
      failedTurns,
      handOff,
      ...errorFields(error.original),
    });
    return {
      result: {
        engine: deps.engine.name,
        status: 'failed',
        replies: [{ type: 'text', body: (handOff ? HANDOFF_AFTER_FAILURES : APOLOGY)[language] }],
        latencyMs: Date.now() - started,
        error: (error as Error).message ?? String(error),
      },
      failedTurns,
      handoff: handOff ? { reason: 'failed_turns', detail: `${failedTurns} turns in a row failed` } : undefined,
      interests: [],
    };
  }
  const interests = reply.interests ?? [];
  const known = context.interests ?? [];
  return {
    result: {
      engine: reply.engine,
      status: 'done',
      replies: reply.replies,
      tokensIn: reply.tokensIn,
      tokensOut: reply.tokensOut,
      latencyMs: Date.now() - started,
    },
    context: {
      ...context,
      ...reply.context,
      language: reply.context?.language ?? language,
      interests: [...known.filter((sku) => !interests.includes(sku)), ...interests].slice(-10),
    },
    failedTurns: 0,
    handoff: reply.handoff,
    interests,
  };
}

/**
 * Asks the engine once per set of inputs: the answer is kept in Redis (idempotency "done" with
 * the reply) before it is committed, so a turn retried after a crash reuses it instead of asking
 * (and paying for) the model again. Only the engine's own failure is an `EngineFailure`; a
 * database or Redis error propagates and the job is retried, with no apology sent.
 */
async function engineReplyOnce(
  deps: TurnDeps,
  conversation: Awaited<ReturnType<typeof getConversation>>,
  { seenFence, pending, history }: { seenFence: number; pending: TurnMessage[]; history: TurnMessage[] },
  context: ConversationContext,
  log: Logger,
): Promise<EngineReply> {
  // The same inputs read from the same committed state: a turn refused because another committed
  // in between (a new fence) asks the engine again, with the new context.
  const key = `turn-${conversation.id}-${seenFence}-${pending[0]!.id}-${pending.length}`;
  const claim = await deps.idempotency.claim<EngineReply>(key);
  if (claim.state === 'done') return claim.result;
  if (claim.state === 'in_progress') throw new TurnComputingElsewhere(`turn ${key} is being computed elsewhere`);
  let reply: EngineReply;
  try {
    const inputIds = new Set(pending.map((m) => m.id));
    try {
      reply = await deps.engine.reply({
        conversationId: conversation.id,
        contact: { name: conversation.contact.profileName, waId: conversation.contact.waId },
        messages: pending.map((m) => ({ type: m.type, text: m.body })),
        history: history
          .filter((h) => !inputIds.has(h.id) && h.status !== 'human')
          .map((h) => ({ direction: h.direction as 'inbound' | 'outbound', text: h.body })),
        context,
      });
    } catch (error) {
      throw new EngineFailure(error);
    }
  } catch (error) {
    await deps.idempotency.release(key, claim.token).catch(() => {});
    throw error;
  }
  // Losing the cached answer only costs a second engine call on a retry: never fail the turn for it.
  await deps.idempotency.complete(key, claim.token, reply).catch((error: unknown) => {
    log.warn('could not keep the engine answer for retries', errorFields(error));
  });
  return reply;
}

/** The engine could not answer (after its own retries): the turn answers with an apology. */
class EngineFailure extends Error {
  override name = 'EngineFailure';
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

async function queueUnsent(deps: TurnDeps, conversationId: string): Promise<void> {
  const unsent = await unsentOutbound(deps.db, conversationId);
  if (unsent.length) await deps.send.addBulk(unsent.map((m) => ({ messageId: m.id })));
}
