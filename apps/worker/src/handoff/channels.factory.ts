import type { WhatsAppSender } from '@zapflow/whatsapp';
import type { WorkerConfig } from '../config';
import { CrmChannel, EmailChannel, WhatsAppChannel, type NotificationChannel } from './channels';

/** The handoff notification channels whose settings are present. */
export function createNotificationChannels(config: WorkerConfig, sender: WhatsAppSender): NotificationChannel[] {
  const channels: NotificationChannel[] = [];
  if (config.SMTP_URL && config.HANDOFF_EMAIL_TO) {
    channels.push(new EmailChannel(config.SMTP_URL, config.HANDOFF_EMAIL_FROM, config.HANDOFF_EMAIL_TO));
  }
  if (config.HANDOFF_CRM_URL) channels.push(new CrmChannel(config.HANDOFF_CRM_URL, config.HANDOFF_CRM_SECRET));
  if (config.HANDOFF_WHATSAPP_TO) channels.push(new WhatsAppChannel(sender, config.HANDOFF_WHATSAPP_TO));
  return channels;
}
