import type { Redis } from 'ioredis';
import { CloudApiClient, EvolutionApiClient, SandboxSender, type WhatsAppSender } from '@zapflow/whatsapp';
import type { WorkerConfig } from './config';

/** The sender named by `WHATSAPP_PROVIDER` (configuration has already checked its settings). */
export function createSender(config: WorkerConfig, redis: Redis): WhatsAppSender {
  switch (config.WHATSAPP_PROVIDER) {
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
