import type { Db } from './client';

/** One notification with what it needs to be delivered. */
export function getHandoffNotification(db: Db, id: string) {
  return db.handoffNotification.findUnique({
    where: { id },
    include: { handoff: { include: { conversation: { include: { contact: true, channel: true } } } } },
  });
}

export async function markNotificationSent(db: Db, id: string): Promise<void> {
  await db.handoffNotification.update({
    where: { id },
    data: { status: 'sent', sentAt: new Date(), attempts: { increment: 1 }, lastError: null },
  });
}

export async function markNotificationAttemptFailed(db: Db, id: string, error: string, final: boolean): Promise<void> {
  await db.handoffNotification.update({
    where: { id },
    data: { status: final ? 'failed' : 'pending', attempts: { increment: 1 }, lastError: error },
  });
}

/** Notification rows still pending (the sweeper re-queues those whose job was lost). */
export function findPendingNotifications(db: Db, { olderThanMs, limit }: { olderThanMs: number; limit: number }) {
  return db.handoffNotification.findMany({
    where: { status: 'pending', createdAt: { lt: new Date(Date.now() - olderThanMs) } },
    select: { id: true },
    take: limit,
  });
}

/**
 * Gives a conversation back to the bot: state `bot`, the open handoff closed with who released
 * it, the failed-turn count reset. False when the conversation was not with a person.
 */
export async function releaseConversation(db: Db, conversationId: string, releasedBy: 'operator' | 'idle') {
  return db.$transaction(async (tx) => {
    const released = await tx.conversation.updateMany({
      where: { id: conversationId, state: 'human' },
      data: { state: 'bot', failedTurns: 0 },
    });
    if (released.count === 0) return false;
    await tx.handoff.updateMany({
      where: { conversationId, releasedAt: null },
      data: { releasedAt: new Date(), releasedBy },
    });
    return true;
  });
}

/** Conversations with a person and no message either way for `idleMs`. */
export function findIdleHandoffs(db: Db, { idleMs, limit }: { idleMs: number; limit: number }) {
  const before = new Date(Date.now() - idleMs);
  return db.conversation.findMany({
    where: {
      state: 'human',
      OR: [{ lastActivityAt: { lt: before } }, { lastActivityAt: null, handedOffAt: { lt: before } }],
    },
    select: { id: true },
    take: limit,
  });
}
