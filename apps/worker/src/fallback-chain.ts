import { advanceFallback, markAlerted, markSendAsTemplate, moveToManualQueue, type Db } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { SEND_PRIORITY, type highQueue, type Producer, type sendQueue } from '@zapflow/queue-contracts';
import type { SendError } from '@zapflow/whatsapp';
import { contentOf, windowTemplateOf } from '@zapflow/whatsapp';

/** What the chain did with a message that failed for good. */
export type FallbackStep = 'template' | 'alternate' | 'requeued' | 'manual';

interface FailedMessage {
  id: string;
  conversationId: string;
  type: string;
  body: string | null;
  payload: unknown;
  fallbackStage: string | null;
  sendAsTemplate: boolean;
}

export interface FallbackDeps {
  db: Db;
  send: Producer<typeof sendQueue.schema>;
  alerts: Producer<typeof highQueue.schema>;
  /** The team's notification channels (the handoff channels) that hear about failed sends. */
  alertChannels: ('email' | 'crm' | 'whatsapp')[];
  hasAlternate: boolean;
  /** How long the chain's one last retry waits (the retry schedule's last delay). */
  lastRetryDelayMs: number;
  logger: Logger;
}

/**
 * Seed 004's fallback chain, for a message whose send failed for good or that Meta reported
 * `failed`. Outside the window: its template equivalent. A passing failure whose retries are
 * spent, or a delivery Meta gave up on: the alternate provider, if one is configured; then, for a
 * passing failure, one more try at the head of the send queue. Finally, and at once for a request
 * Meta refused (invalid parameter, unknown or blocked recipient: no provider fixes those), the
 * operators are alerted and the message waits in the manual queue with the reason. Every step is
 * recorded on the message, so each is taken once.
 */
export class FallbackChain {
  constructor(private readonly deps: FallbackDeps) {}

  async next(
    message: FailedMessage,
    failure: SendError,
    { deliveryFailed = false }: { deliveryFailed?: boolean } = {},
  ): Promise<FallbackStep> {
    const { db } = this.deps;
    const reason = { code: failure.code, message: failure.message };
    if (
      failure.code === '131047' &&
      !message.sendAsTemplate &&
      contentOf(message).type !== 'template' &&
      windowTemplateOf(message) &&
      (await markSendAsTemplate(db, message.id, reason))
    ) {
      return 'template';
    }
    if (
      this.deps.hasAlternate &&
      (failure.retryable || deliveryFailed) &&
      !message.fallbackStage &&
      (await advanceFallback(db, message.id, 'alternate', reason))
    ) {
      return 'alternate';
    }
    if (
      failure.retryable &&
      message.fallbackStage !== 'requeued' &&
      (await advanceFallback(db, message.id, 'requeued', reason))
    ) {
      await this.deps.send.addAgain(
        { messageId: message.id },
        {
          jobId: `send-${message.id}-last`,
          priority: SEND_PRIORITY.lastRetry,
          attempts: 1,
          delay: this.deps.lastRetryDelayMs,
        },
      );
      return 'requeued';
    }
    await this.toManualQueue(message, reason);
    return 'manual';
  }

  /** The end of every road: a person decides (`GET /api/manual-queue`), and the team is told. */
  async toManualQueue(message: FailedMessage, reason: { code: string; message: string }): Promise<void> {
    await moveToManualQueue(this.deps.db, message.id, reason);
    if (!(await markAlerted(this.deps.db, message.id))) return;
    this.deps.logger.error('message could not be sent; operators alerted, message in the manual queue', {
      messageId: message.id,
      conversationId: message.conversationId,
      errorCode: reason.code,
      error: reason.message,
      alertChannels: this.deps.alertChannels,
    });
    await this.deps.alerts.addBulk(
      this.deps.alertChannels.map((channel) => ({ alert: 'send_failed' as const, messageId: message.id, channel })),
    );
  }
}
