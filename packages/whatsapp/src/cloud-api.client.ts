import { cloudMessageBody, cloudReadBody } from './cloud-api.payload';
import { ProviderHttp } from './provider-http';
import { SendError } from './send-error';
import type { OutgoingMessage, ReadReceipt, SendResult, WhatsAppSender } from './sender';

export interface CloudApiOptions {
  baseUrl: string;
  apiVersion: string;
  accessToken: string;
  timeoutMs: number;
}

/**
 * Meta's WhatsApp Cloud API: every call is `POST /{version}/{phone_number_id}/messages` with the
 * bearer token, from the business number that received the conversation.
 */
export class CloudApiClient implements WhatsAppSender {
  readonly provider = 'cloud' as const;
  private readonly http: ProviderHttp;

  constructor(options: CloudApiOptions) {
    this.http = new ProviderHttp({
      label: 'Cloud API',
      baseUrl: `${options.baseUrl.replace(/\/$/, '')}/${options.apiVersion}`,
      timeoutMs: options.timeoutMs,
      headers: { Authorization: `Bearer ${options.accessToken}` },
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const data = await this.http.post(messagesPath(message.channelExternalId), cloudMessageBody(message));
    const id = (data as { messages?: { id?: unknown }[] } | null)?.messages?.[0]?.id;
    if (typeof id !== 'string') {
      throw new SendError('the Cloud API accepted the message but returned no message id', 'no_message_id', false);
    }
    return { providerMessageId: id };
  }

  /** Blue ticks on an inbound message, and "typing…" when asked (Meta clears it at the reply or after 25 s). */
  async markRead(receipt: ReadReceipt): Promise<void> {
    await this.http.post(messagesPath(receipt.channelExternalId), cloudReadBody(receipt));
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

function messagesPath(phoneNumberId: string): string {
  return `/${encodeURIComponent(phoneNumberId)}/messages`;
}
