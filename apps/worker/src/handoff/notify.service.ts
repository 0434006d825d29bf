import { UnrecoverableError } from 'bullmq';
import {
  getHandoffNotification,
  markNotificationAttemptFailed,
  markNotificationSent,
  recentMessages,
  type Db,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { errorFields } from '@zapflow/logger';
import type { HandoffNotice, NotificationChannel } from './channels';

export interface NotifyDeps {
  db: Db;
  channels: NotificationChannel[];
  logger: Logger;
}

/**
 * Delivers one handoff notification on its channel. Each channel is its own job, so a CRM that
 * is down is retried without e-mailing the team again. A notification already sent is not sent
 * again; the last failed attempt leaves the reason on the row.
 */
export async function deliverHandoffNotification(
  deps: NotifyDeps,
  notificationId: string,
  { isLastAttempt }: { isLastAttempt: boolean },
): Promise<'sent' | 'already_sent'> {
  const notification = await getHandoffNotification(deps.db, notificationId);
  if (!notification) throw new UnrecoverableError(`handoff notification ${notificationId} does not exist`);
  if (notification.status === 'sent') return 'already_sent';
  const { handoff } = notification;
  const log = deps.logger.child({
    notificationId,
    handoffId: handoff.id,
    conversationId: handoff.conversationId,
    channel: notification.channel,
  });
  const channel = deps.channels.find((c) => c.name === notification.channel);
  if (!channel) {
    await markNotificationAttemptFailed(
      deps.db,
      notificationId,
      `channel ${notification.channel} is not configured`,
      true,
    );
    throw new UnrecoverableError(`handoff channel ${notification.channel} is not configured on this worker`);
  }
  const history = await recentMessages(deps.db, handoff.conversationId, 6);
  const notice: HandoffNotice = {
    notificationId,
    handoffId: handoff.id,
    conversationId: handoff.conversationId,
    reason: handoff.reason,
    detail: handoff.detail,
    contact: { waId: handoff.conversation.contact.waId, name: handoff.conversation.contact.profileName },
    channelExternalId: handoff.conversation.channel.externalId,
    lastMessages: history.map((m) => ({ direction: m.direction, text: m.body, at: m.createdAt.toISOString() })),
    createdAt: handoff.createdAt.toISOString(),
  };
  try {
    await channel.deliver(notice);
  } catch (error) {
    const reason = (error as Error).message ?? String(error);
    await markNotificationAttemptFailed(deps.db, notificationId, reason, isLastAttempt);
    log.warn(
      isLastAttempt ? 'handoff notification failed for good' : 'handoff notification failed; will retry',
      errorFields(error),
    );
    throw error;
  }
  await markNotificationSent(deps.db, notificationId);
  log.info('handoff notification sent');
  return 'sent';
}

/**
 * Tells the team, on one channel, that a message could not be sent and waits in the manual
 * queue. A channel that fails is retried by the job; the message itself is already safe.
 */
export async function deliverOperatorAlert(
  deps: NotifyDeps,
  { messageId, channel: channelName }: { messageId: string; channel: NotificationChannel['name'] },
): Promise<'sent' | 'obsolete'> {
  const message = await deps.db.message.findUnique({
    where: { id: messageId },
    include: { channel: true, conversation: { include: { contact: true } } },
  });
  // Resent or discarded by an operator meanwhile: nothing left to say.
  if (!message || message.status !== 'manual') return 'obsolete';
  const channel = deps.channels.find((c) => c.name === channelName);
  if (!channel) throw new UnrecoverableError(`alert channel ${channelName} is not configured on this worker`);
  await channel.alert({
    alertId: `alert-${messageId}-${channelName}`,
    messageId,
    conversationId: message.conversationId,
    contact: { waId: message.conversation.contact.waId, name: message.conversation.contact.profileName },
    channelExternalId: message.channel.externalId,
    body: message.body,
    errorCode: message.errorCode,
    errorMessage: message.errorMessage,
    failedAt: message.failedAt?.toISOString() ?? null,
  });
  deps.logger.info('operators alerted about a message in the manual queue', { messageId, channel: channelName });
  return 'sent';
}
