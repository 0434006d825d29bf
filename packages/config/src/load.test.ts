import { describe, expect, it } from '@jest/globals';
import { webhookApiEnv, workerEnv } from './env';
import { adminPasswordInProduction, ConfigError, loadConfig, productionSafety, providerRequirements } from './load';

const rules = [providerRequirements, productionSafety, adminPasswordInProduction];

function problems(
  env: NodeJS.ProcessEnv,
  load: (e: NodeJS.ProcessEnv) => unknown = (e) => loadConfig(webhookApiEnv, e, rules),
): string[] {
  try {
    load(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('configuration', () => {
  it('runs with no variables at all, on the documented defaults', () => {
    const config = loadConfig(webhookApiEnv, {}, rules);
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/zapflow',
      QUEUE_PREFIX: 'zapflow',
      PORT: 3000,
      WHATSAPP_PROVIDER: 'sandbox',
      WHATSAPP_API_BASE_URL: 'https://graph.facebook.com',
      WHATSAPP_PHONE_NUMBER_IDS: [],
    });
  });

  it('reports every bad variable, one line each, naming it', () => {
    const lines = problems({ PORT: 'eighty', REDIS_URL: 'not a url', WHATSAPP_PROVIDER: 'telegram' });
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split(':')[0]).sort()).toEqual(['PORT', 'REDIS_URL', 'WHATSAPP_PROVIDER']);
  });

  it('requires the app secret and access token for the Cloud API', () => {
    const lines = problems({ WHATSAPP_PROVIDER: 'cloud' });
    expect(lines.join('\n')).toMatch(/WHATSAPP_APP_SECRET/);
    expect(lines.join('\n')).toMatch(/WHATSAPP_ACCESS_TOKEN/);
  });

  it('refuses the sandbox provider and a missing admin password in production', () => {
    const lines = problems({ NODE_ENV: 'production' });
    expect(lines.join('\n')).toMatch(/WHATSAPP_PROVIDER: sandbox/);
    expect(lines.join('\n')).toMatch(/ADMIN_PASSWORD: required in production/);
  });

  it('accepts a complete production configuration', () => {
    expect(
      problems({
        NODE_ENV: 'production',
        WHATSAPP_PROVIDER: 'cloud',
        WHATSAPP_APP_SECRET: 's',
        WHATSAPP_ACCESS_TOKEN: 't',
        ADMIN_PASSWORD: 'p',
      }),
    ).toEqual([]);
  });

  it('reads the send retry schedule as a list of milliseconds', () => {
    expect(loadConfig(workerEnv, {}).SEND_RETRY_DELAYS_MS).toEqual([60000, 120000, 240000]);
    expect(loadConfig(workerEnv, { SEND_RETRY_DELAYS_MS: '10, 20' }).SEND_RETRY_DELAYS_MS).toEqual([10, 20]);
    expect(problems({ SEND_RETRY_DELAYS_MS: '10,soon' }, (e) => loadConfig(workerEnv, e))[0]).toMatch(
      /^SEND_RETRY_DELAYS_MS:/,
    );
  });

  it('splits the list of business numbers', () => {
    expect(loadConfig(webhookApiEnv, { WHATSAPP_PHONE_NUMBER_IDS: '111, 222,' }).WHATSAPP_PHONE_NUMBER_IDS).toEqual([
      '111',
      '222',
    ]);
  });
});
