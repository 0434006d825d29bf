import {
  evolutionReadRequest,
  evolutionSendRequest,
  evolutionTypingRequest,
  type EvolutionRequest,
} from './evolution-api.payload';
import { isRecord } from './read-helpers';
import { ProviderHttp } from './provider-http';
import { SendError } from './send-error';
import type { OutgoingMessage, ReadReceipt, SendResult, WhatsAppSender } from './sender';

export interface EvolutionApiOptions {
  baseUrl: string;
  apiKey: string;
  instance: string;
  timeoutMs: number;
  /** Told when the background "typing…" request fails (it is a courtesy: nothing else happens). */
  onTypingError?: (error: unknown) => void;
}

/**
 * A self-hosted Evolution API (v2) instance: `POST /message/sendText/{instance}` and its siblings,
 * `POST /chat/markMessageAsRead/{instance}`, with the `apikey` header. Every send answers with
 * the stored message, whose `key.id` is the WhatsApp message id later `messages.update` events name.
 */
export class EvolutionApiClient implements WhatsAppSender {
  readonly provider = 'evolution' as const;
  private readonly http: ProviderHttp;

  constructor(private readonly options: EvolutionApiOptions) {
    this.http = new ProviderHttp({
      label: 'Evolution API',
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      headers: { apikey: options.apiKey },
      describeErrorBody: evolutionErrorDetail,
    });
  }

  async send(message: OutgoingMessage): Promise<SendResult> {
    const data = await this.post(evolutionSendRequest(message));
    const id = (data as { key?: { id?: unknown } } | null)?.key?.id;
    if (typeof id !== 'string') {
      throw new SendError('Evolution API accepted the message but returned no key.id', 'no_message_id', false);
    }
    return { providerMessageId: id };
  }

  /**
   * Marks the message read, then, when asked, shows "typing…". Evolution holds the presence
   * request open for its whole `delay` (it sends `composing`, waits, then `paused`), so that
   * request is not awaited: a reply must not wait 3 s for a courtesy. Its failure goes to
   * `onTypingError`.
   */
  async markRead(receipt: ReadReceipt): Promise<void> {
    await this.post(evolutionReadRequest(receipt));
    if (receipt.typing) {
      this.post(evolutionTypingRequest(receipt)).catch((error: unknown) => this.options.onTypingError?.(error));
    }
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private post(request: EvolutionRequest): Promise<unknown> {
    return this.http.post(`${request.route}/${encodeURIComponent(this.options.instance)}`, request.body);
  }
}

/** Evolution's errors read `{ status, error, response: { message: [...] } }`; the messages say what was wrong. */
function evolutionErrorDetail(body: unknown): string | undefined {
  if (!isRecord(body) || !isRecord(body.response)) return undefined;
  const message: unknown = body.response.message;
  const parts = (Array.isArray(message) ? message : [message]).map((part) =>
    typeof part === 'string' ? part : JSON.stringify(part),
  );
  const detail = parts.filter((part) => part !== undefined && part !== '').join('; ');
  return detail ? detail.slice(0, 300) : undefined;
}
