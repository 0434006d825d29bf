import type { Redis } from 'ioredis';

/** How a message went out: what `markSent` needs to record it. */
export interface SentNote {
  providerMessageId: string;
  viaChannelId?: string | undefined;
  asTemplate: boolean;
}

/** A week: longer than any message stays in the outbox or the manual queue. */
const TTL_S = 7 * 24 * 3600;

/**
 * Notes in Redis, the moment the provider accepts a message, the id it gave, before the database
 * records it. If that record cannot be written (PostgreSQL down, the worker killed in between),
 * the next attempt finds the note and records the send instead of sending again. What remains
 * is the instant between the provider's answer and this note, and an answer lost on the way: no
 * provider API lets a sender close those (see docs/architecture.md).
 */
export class SentMarkers {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(messageId: string): string {
    return `${this.prefix}:sent:${messageId}`;
  }

  async note(messageId: string, sent: SentNote): Promise<void> {
    await this.redis.set(this.key(messageId), JSON.stringify(sent), 'EX', TTL_S);
  }

  async forget(messageId: string): Promise<void> {
    await this.redis.del(this.key(messageId));
  }

  /** A send that went out but may not be recorded yet. */
  async find(messageId: string): Promise<SentNote | null> {
    const raw = await this.redis.get(this.key(messageId));
    return raw ? (JSON.parse(raw) as SentNote) : null;
  }
}
