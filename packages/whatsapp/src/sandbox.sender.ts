import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  describeContent,
  type OutgoingMessage,
  type ReadReceipt,
  type SendResult,
  type WhatsAppSender,
} from './sender';

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
      message.content.type,
      // One line a person reads (`npm run chat` prints it); `content` keeps the whole message.
      'body',
      describeContent(message.content),
      'content',
      JSON.stringify(message.content),
    );
    return { providerMessageId };
  }

  /**
   * Records nothing: the stream holds what the bot says (`npm run chat` prints each entry as a
   * reply), and a read receipt or "typing…" is not something said. There is no phone to show
   * blue ticks on, so resolving is the whole of the stand-in.
   */
  async markRead(_receipt: ReadReceipt): Promise<void> {}
}
