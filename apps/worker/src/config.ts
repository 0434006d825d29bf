import { loadConfig, productionSafety, providerRequirements, workerEnv } from '@zapflow/config';

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(workerEnv, env, [providerRequirements, productionSafety, handoffChannels]);
  return {
    ...config,
    debounceMaxWaitMs: config.DEBOUNCE_MAX_WAIT_MS ?? 3 * config.DEBOUNCE_MS,
    /** The handoff notification channels that are configured. */
    handoffChannels: [
      ...(config.SMTP_URL && config.HANDOFF_EMAIL_TO ? ['email'] : []),
      ...(config.HANDOFF_CRM_URL ? ['crm'] : []),
      ...(config.HANDOFF_WHATSAPP_TO ? ['whatsapp'] : []),
    ],
  };
}

/** Half a channel's settings is a mistake worth stopping for. */
function handoffChannels(c: { SMTP_URL?: string | undefined; HANDOFF_EMAIL_TO?: string | undefined }): string[] {
  if (Boolean(c.SMTP_URL) !== Boolean(c.HANDOFF_EMAIL_TO)) {
    return ['SMTP_URL and HANDOFF_EMAIL_TO: set both to e-mail handoffs, or neither'];
  }
  return [];
}
