import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

type Shape = Record<string, z.ZodType>;
type Rule<T> = (config: T) => string[];

/**
 * Parses the environment once, at start-up. Every problem is reported, one line per variable,
 * so an operator fixes them all in one go; nothing listens before this has passed.
 */
export function loadConfig<S extends Shape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
  rules: Rule<z.infer<z.ZodObject<S>>>[] = [],
): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const problems = rules.flatMap((rule) => rule(result.data));
  if (problems.length) throw new ConfigError(problems);
  return result.data;
}

interface ProductionFields {
  NODE_ENV: string;
  WHATSAPP_PROVIDER?: string;
  WHATSAPP_APP_SECRET?: string | undefined;
  WHATSAPP_ACCESS_TOKEN?: string | undefined;
  EVOLUTION_API_URL?: string | undefined;
  EVOLUTION_API_KEY?: string | undefined;
  EVOLUTION_INSTANCE?: string | undefined;
  WHATSAPP_FALLBACK_PROVIDER?: string | undefined;
  WHATSAPP_FALLBACK_PHONE_NUMBER_ID?: string | undefined;
  ADMIN_PASSWORD?: string | undefined;
}

/** What each provider cannot run without, in any environment. */
export const providerRequirements: Rule<ProductionFields> = (c) => {
  const problems: string[] = [];
  if (c.WHATSAPP_PROVIDER === 'cloud') {
    if (!c.WHATSAPP_APP_SECRET)
      problems.push(
        'WHATSAPP_APP_SECRET: required when WHATSAPP_PROVIDER=cloud (Meta app settings > Basic > App secret)',
      );
    if (!c.WHATSAPP_ACCESS_TOKEN)
      problems.push(
        'WHATSAPP_ACCESS_TOKEN: required when WHATSAPP_PROVIDER=cloud (a system-user token with whatsapp_business_messaging)',
      );
  }
  if (c.WHATSAPP_PROVIDER === 'evolution' || c.WHATSAPP_FALLBACK_PROVIDER === 'evolution') {
    for (const key of ['EVOLUTION_API_URL', 'EVOLUTION_API_KEY', 'EVOLUTION_INSTANCE'] as const) {
      if (!c[key])
        problems.push(`${key}: required when Evolution API sends (WHATSAPP_PROVIDER or WHATSAPP_FALLBACK_PROVIDER)`);
    }
  }
  if (c.WHATSAPP_FALLBACK_PROVIDER) {
    if (c.WHATSAPP_FALLBACK_PROVIDER === c.WHATSAPP_PROVIDER) {
      problems.push('WHATSAPP_FALLBACK_PROVIDER: must differ from WHATSAPP_PROVIDER (it is the alternate)');
    }
    if (c.WHATSAPP_FALLBACK_PROVIDER === 'cloud') {
      if (!c.WHATSAPP_ACCESS_TOKEN)
        problems.push('WHATSAPP_ACCESS_TOKEN: required when WHATSAPP_FALLBACK_PROVIDER=cloud');
      if (!c.WHATSAPP_FALLBACK_PHONE_NUMBER_ID) {
        problems.push(
          'WHATSAPP_FALLBACK_PHONE_NUMBER_ID: required when WHATSAPP_FALLBACK_PROVIDER=cloud (the number it sends from)',
        );
      }
    }
  }
  return problems;
};

/** `NODE_ENV=production` refuses the defaults that are only safe on a laptop. */
export const productionSafety: Rule<ProductionFields> = (c) => {
  if (c.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  if (c.WHATSAPP_PROVIDER === 'sandbox') {
    problems.push('WHATSAPP_PROVIDER: sandbox sends nothing; set cloud or evolution in production');
  }
  return problems;
};

/** For deployables that serve the admin pages. */
export const adminPasswordInProduction: Rule<ProductionFields> = (c) =>
  c.NODE_ENV === 'production' && !c.ADMIN_PASSWORD
    ? ['ADMIN_PASSWORD: required in production (it guards Bull Board and the admin pages)']
    : [];
