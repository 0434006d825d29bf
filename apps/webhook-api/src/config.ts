import {
  adminPasswordInProduction,
  DEVELOPMENT_APP_SECRET,
  loadConfig,
  productionSafety,
  providerRequirements,
  webhookApiEnv,
} from '@zapflow/config';

export type WebhookApiConfig = ReturnType<typeof loadWebhookApiConfig>;

export function loadWebhookApiConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(webhookApiEnv, env, [providerRequirements, productionSafety, adminPasswordInProduction]);
  return {
    ...config,
    // With the sandbox sender (nothing reaches WhatsApp) a well-known secret stands in, so
    // `npm run chat` can sign its webhooks. Any real provider needs a real secret.
    appSecret:
      config.WHATSAPP_APP_SECRET ??
      (config.NODE_ENV !== 'production' && config.WHATSAPP_PROVIDER === 'sandbox' ? DEVELOPMENT_APP_SECRET : undefined),
  };
}
