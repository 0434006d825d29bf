import type { Limit, RateLimiter } from '@zapflow/idempotency';
import type { WorkerConfig } from './config';

/**
 * The limits every send passes, kept in Redis so they hold across all worker processes: the
 * business number's throughput (or the Evolution instance's rate) and the recipient's pair rate
 * (one message per interval, with a small burst).
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
   * 0 when the message may go now, else how long to wait before asking again. The number's pause
   * (after a 130429), the number's throughput (or the Evolution instance's rate) and the
   * recipient's pair rate are checked together in one round trip, and the message is counted
   * under both rates only when both admit it: a refusal by one never spends the other's slot.
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
    const sender: Limit =
      provider === 'evolution'
        ? {
            scope: 'instance',
            subject: channelExternalId,
            rate: { count: c.EVOLUTION_RATE_PER_MINUTE, perMs: 60_000, burst: 1 },
          }
        : {
            scope: 'number',
            subject: channelExternalId,
            rate: { count: c.SEND_RATE_PER_NUMBER_PER_S, perMs: 1000, burst: c.SEND_RATE_PER_NUMBER_PER_S },
          };
    const pair: Limit = {
      scope: 'pair',
      subject: `${channelExternalId}:${recipient}`,
      rate: { count: 1, perMs: c.SEND_RATE_PER_RECIPIENT_INTERVAL_MS, burst: c.SEND_RATE_PER_RECIPIENT_BURST },
    };
    return this.limiter.admit([sender, pair], [{ scope: 'number', subject: channelExternalId }]);
  }
}
