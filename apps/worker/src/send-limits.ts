import type { RateLimiter } from '@zapflow/idempotency';
import type { WorkerConfig } from './config';

/**
 * The limits every send passes, kept in Redis so they hold across all worker processes: the
 * recipient's pair rate (one message per interval, with a small burst), then the business
 * number's throughput, or the Evolution instance's rate.
 */
export class SendLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: Pick<
      WorkerConfig,
      | 'SEND_RATE_PER_NUMBER_PER_S'
      | 'SEND_RATE_PER_RECIPIENT_INTERVAL_MS'
      | 'SEND_RATE_PER_RECIPIENT_BURST'
      | 'EVOLUTION_RATE_PER_MINUTE'
      | 'NUMBER_BACKOFF_MS'
    >,
  ) {}

  /** Meta said the number is over its throughput (130429): every send from it waits. */
  async backOffNumber(channelExternalId: string): Promise<number> {
    await this.limiter.pause('number', channelExternalId, this.config.NUMBER_BACKOFF_MS);
    return this.config.NUMBER_BACKOFF_MS;
  }

  /**
   * 0 when the message may go now, else how long to wait before asking again. The number (or
   * instance) is asked first: it has the capacity to spare, so a refusal by the recipient's pair
   * rate wastes little, while the other way round a busy number would burn the recipient's slot.
   */
  async admit({
    provider,
    channelExternalId,
    recipient,
  }: {
    /** The provider sending it: the primary, or the alternate of the fallback chain. */
    provider: string;
    channelExternalId: string;
    recipient: string;
  }): Promise<number> {
    const c = this.config;
    const paused = await this.limiter.pausedFor('number', channelExternalId);
    if (paused > 0) return paused;
    const sender =
      provider === 'evolution'
        ? await this.limiter.take('instance', channelExternalId, {
            count: c.EVOLUTION_RATE_PER_MINUTE,
            perMs: 60_000,
            burst: 1,
          })
        : await this.limiter.take('number', channelExternalId, {
            count: c.SEND_RATE_PER_NUMBER_PER_S,
            perMs: 1000,
            burst: c.SEND_RATE_PER_NUMBER_PER_S,
          });
    if (sender > 0) return sender;
    return this.limiter.take('pair', `${channelExternalId}:${recipient}`, {
      count: 1,
      perMs: c.SEND_RATE_PER_RECIPIENT_INTERVAL_MS,
      burst: c.SEND_RATE_PER_RECIPIENT_BURST,
    });
  }
}
