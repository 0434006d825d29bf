import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { classifyGraphError, SendError } from './send-error';
import type { OutgoingMessage, SendResult, WhatsAppSender } from './sender';

export interface EvolutionApiOptions {
  baseUrl: string;
  apiKey: string;
  instance: string;
  timeoutMs: number;
}

/** A self-hosted Evolution API instance: `POST /message/sendText/{instance}` with the `apikey` header. */
export class EvolutionApiClient implements WhatsAppSender {
  readonly provider = 'evolution' as const;
  private readonly http: AxiosInstance;
  private readonly agents = {
    httpAgent: new http.Agent({ keepAlive: true }),
    httpsAgent: new https.Agent({ keepAlive: true }),
  };

  constructor(private readonly options: EvolutionApiOptions) {
    this.http = axios.create({
      baseURL: options.baseUrl.replace(/\/$/, ''),
      timeout: options.timeoutMs,
      headers: { apikey: options.apiKey, 'Content-Type': 'application/json' },
      ...this.agents,
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    try {
      const { data } = await this.http.post(`/message/sendText/${encodeURIComponent(this.options.instance)}`, {
        number: message.to,
        text: message.body,
      });
      const id = (data as { key?: { id?: unknown } }).key?.id;
      if (typeof id !== 'string') {
        throw new SendError('Evolution API accepted the message but returned no key.id', 'no_message_id', false);
      }
      return { providerMessageId: id };
    } catch (error) {
      if (error instanceof AxiosError) {
        throw classifyGraphError(
          error.response?.status,
          error.response?.data,
          `Evolution API request failed: ${error.message}`,
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
