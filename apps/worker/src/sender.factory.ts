import type { Redis } from 'ioredis';
import { ensureChannel, type Db } from '@zapflow/db';
import { CloudApiClient, EvolutionApiClient, SandboxSender, type WhatsAppSender } from '@zapflow/whatsapp';
import type { WorkerConfig } from './config';
import type { Route } from './send.service';

type Provider = WorkerConfig['WHATSAPP_PROVIDER'];

/** The sender for a provider (`WHATSAPP_PROVIDER` by default); configuration has already checked its settings. */
export function createSender(
  config: WorkerConfig,
  redis: Redis,
  provider: Provider = config.WHATSAPP_PROVIDER,
): WhatsAppSender {
  switch (provider) {
    case 'cloud':
      return new CloudApiClient({
        baseUrl: config.WHATSAPP_API_BASE_URL,
        apiVersion: config.WHATSAPP_API_VERSION,
        accessToken: config.WHATSAPP_ACCESS_TOKEN ?? '',
        timeoutMs: config.WHATSAPP_TIMEOUT_MS,
      });
    case 'evolution':
      return new EvolutionApiClient({
        baseUrl: config.EVOLUTION_API_URL ?? '',
        apiKey: config.EVOLUTION_API_KEY ?? '',
        instance: config.EVOLUTION_INSTANCE ?? '',
        timeoutMs: config.WHATSAPP_TIMEOUT_MS,
      });
    case 'sandbox':
      return new SandboxSender(redis, config.QUEUE_PREFIX);
  }
}

/**
 * The fallback chain's alternate provider (`WHATSAPP_FALLBACK_PROVIDER`) and the channel it sends
 * from (the Evolution instance, or `WHATSAPP_FALLBACK_PHONE_NUMBER_ID`), whose row is created on
 * first use so that the alternate's statuses find the message. Undefined when none is configured.
 */
export function createAlternateRoute(
  config: WorkerConfig,
  redis: Redis,
  db: Db,
): { sender: WhatsAppSender; route: () => Promise<Route> } | undefined {
  const provider = config.WHATSAPP_FALLBACK_PROVIDER;
  if (!provider) return undefined;
  const sender = createSender(config, redis, provider);
  const externalId =
    (provider === 'evolution' ? config.EVOLUTION_INSTANCE : config.WHATSAPP_FALLBACK_PHONE_NUMBER_ID) ?? '';
  let channel: Promise<string> | undefined;
  return {
    sender,
    route: async () => {
      channel ??= ensureChannel(db, provider, externalId).catch((error: unknown) => {
        channel = undefined;
        throw error;
      });
      return { sender, channel: { id: await channel, externalId } };
    },
  };
}
