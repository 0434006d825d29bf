import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { classifyGraphError, SendError } from './send-error';
import type { OutgoingMessage, SendResult, WhatsAppSender } from './sender';

export interface CloudApiOptions {
  baseUrl: string;
  apiVersion: string;
  accessToken: string;
  timeoutMs: number;
}

/**
 * Meta's WhatsApp Cloud API. One axios instance with keep-alive agents: a busy worker reuses its
 * TLS connections instead of opening one per message.
 */
export class CloudApiClient implements WhatsAppSender {
  readonly provider = 'cloud' as const;
  private readonly http: AxiosInstance;
  private readonly agents = {
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  constructor(private readonly options: CloudApiOptions) {
    this.http = axios.create({
      baseURL: `${options.baseUrl.replace(/\/$/, '')}/${options.apiVersion}`,
      timeout: options.timeoutMs,
      headers: { Authorization: `Bearer ${options.accessToken}`, 'Content-Type': 'application/json' },
      ...this.agents,
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const body = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.to,
      type: 'text',
      text: { body: message.body, preview_url: false },
      ...(message.replyToProviderMessageId ? { context: { message_id: message.replyToProviderMessageId } } : {}),
    };
    const data = await this.post(message.channelExternalId, body);
    const id = (data as { messages?: { id?: unknown }[] }).messages?.[0]?.id;
    if (typeof id !== 'string') {
      throw new SendError('the Cloud API accepted the message but returned no message id', 'no_message_id', false);
    }
    return { providerMessageId: id };
  }

  /** Marks an inbound message as read (blue ticks). */
  async markAsRead(channelExternalId: string, providerMessageId: string): Promise<void> {
    await this.post(channelExternalId, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: providerMessageId,
    });
  }

  private async post(phoneNumberId: string, body: unknown): Promise<unknown> {
    try {
      const response = await this.http.post(`/${encodeURIComponent(phoneNumberId)}/messages`, body);
      return response.data;
    } catch (error) {
      if (error instanceof AxiosError) {
        throw classifyGraphError(
          error.response?.status,
          error.response?.data,
          `Cloud API request failed: ${error.message}`,
        );
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.agents.httpAgent.destroy();
    this.agents.httpsAgent.destroy();
  }
}
