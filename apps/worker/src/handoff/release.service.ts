import { findIdleHandoffs, releaseConversation, type Db } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';

/**
 * Gives back to the bot every conversation that has been with a person and silent for `idleMs`
 * (the team forgot to release it). Messages from then on are answered by the bot again.
 */
export async function releaseIdleHandoffs(deps: { db: Db; logger: Logger }, idleMs: number) {
  const idle = await findIdleHandoffs(deps.db, { idleMs, limit: 500 });
  let released = 0;
  for (const { id } of idle) {
    if (await releaseConversation(deps.db, id, 'idle')) {
      released++;
      deps.logger.info('idle handoff released to the bot', { conversationId: id, idleMs });
    }
  }
  return { released };
}
