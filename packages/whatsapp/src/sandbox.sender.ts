import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { OutgoingMessage, SendResult, WhatsAppSender } from './sender';

/** The Redis stream where the sandbox records what it would have sent (`npm run chat` reads it). */
export function sandboxStreamKey(prefix: string): string {
  return `${prefix}:sandbox:sent`;
}

/**
 * The default provider: sends nothing, records each message in a capped Redis stream and answers
 * like the Cloud API would, with a message id. Lets zapflow run end to end without a Meta account.
 */
export class SandboxSender implements WhatsAppSender {
  readonly provider = 'sandbox' as const;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async send(message: OutgoingMessage): Promise<SendResult> {
    const providerMessageId = `wamid.sandbox.${randomUUID()}`;
    await this.redis.xadd(
      sandboxStreamKey(this.prefix),
      'MAXLEN',
      '~',
      '10000',
      '*',
      'id',
      providerMessageId,
      'from',
      message.channelExternalId,
      'to',
      message.to,
      'type',
      message.type,
      'body',
      message.body,
    );
    return { providerMessageId };
  }
}
