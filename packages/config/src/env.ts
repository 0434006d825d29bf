import { z } from 'zod';

// Environment variables as CONTRACT.md lists them. Each deployable builds its schema from the
// groups it needs, so a worker never demands the webhook's secrets and vice versa.

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const commaList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

export const baseEnv = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/zapflow'),
  /**
   * PostgreSQL connections per process, in all: three in ten for Prisma, the rest for the
   * message path's statements (packages/db/src/client.ts). Mind the server's max_connections
   * (100 by default) across every replica: 10 workers x 10 is already all of it.
   */
  DATABASE_POOL_SIZE: positiveInt(10),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_{}.-]+$/, 'letters, digits, _ . - { } only (it starts every Redis key)')
    .default('zapflow'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
};

export const whatsappEnv = {
  WHATSAPP_PROVIDER: z.enum(['cloud', 'evolution', 'sandbox']).default('sandbox'),
  WHATSAPP_APP_SECRET: optionalString,
  WHATSAPP_VERIFY_TOKEN: optionalString,
  WHATSAPP_ACCESS_TOKEN: optionalString,
  WHATSAPP_PHONE_NUMBER_IDS: commaList,
  WHATSAPP_API_BASE_URL: z.string().url().default('https://graph.facebook.com'),
  WHATSAPP_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, 'a Graph API version such as v21.0')
    .default('v21.0'),
  WHATSAPP_TIMEOUT_MS: positiveInt(15_000),
  /** Waits between a failed send's retries; every producer of send jobs gives them as many attempts. */
  SEND_RETRY_DELAYS_MS: z
    .string()
    .default('60000,120000,240000')
    .transform((v, ctx) => {
      const delays = v.split(',').map((s) => Number(s.trim()));
      if (delays.some((d) => !Number.isInteger(d) || d < 0)) {
        ctx.addIssue({
          code: 'custom',
          message: 'a comma list of non-negative milliseconds, e.g. 60000,120000,240000',
        });
        return z.NEVER;
      }
      return delays;
    }),
  /** Meta's limit on one text message; a longer one is split into several (at most 4096). */
  TEXT_MAX_CHARS: z.coerce.number().int().min(100).max(4096).default(4096),
  EVOLUTION_API_URL: optionalString,
  EVOLUTION_API_KEY: optionalString,
  EVOLUTION_INSTANCE: optionalString,
};

export const webhookApiEnv = {
  ...baseEnv,
  ...whatsappEnv,
  PORT: port(3000),
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: optionalString,
  /** Bearer keys for /api/* as `orgSlug:key,...`. */
  API_KEYS: commaList,
  /** Meta sends notifications of up to 3 MB; a little headroom for the envelope. */
  WEBHOOK_BODY_LIMIT_BYTES: positiveInt(3 * 1024 * 1024 + 64 * 1024),
};

export const workerEnv = {
  ...baseEnv,
  ...whatsappEnv,
  WORKER_METRICS_PORT: port(9464),
  WORKER_CONCURRENCY: positiveInt(50),
  IDEMPOTENCY_TTL_S: positiveInt(86_400),
  /** How long a job's lock lives without renewal; a crashed worker's jobs are retried after it. */
  WORKER_LOCK_MS: positiveInt(30_000),
  INBOX_SWEEP_AFTER_MS: positiveInt(60_000),
  /** Per business number: Meta's default throughput is 80 messages per second. */
  SEND_RATE_PER_NUMBER_PER_S: positiveInt(80),
  /** Per recipient (Meta's pair rate): about one message every 6 s sustained... */
  SEND_RATE_PER_RECIPIENT_INTERVAL_MS: positiveInt(6000),
  /** ...with short bursts, so a reply of two or three messages still goes out at once. */
  SEND_RATE_PER_RECIPIENT_BURST: positiveInt(5),
  /**
   * Free-form messages only within this long of the contact's last message (WhatsApp's 24-hour
   * customer-service window); outside it a message goes to the manual queue.
   */
  CUSTOMER_SERVICE_WINDOW_MS: positiveInt(24 * 3600 * 1000),
  /** After Meta's throughput error 130429, the whole business number pauses this long. */
  NUMBER_BACKOFF_MS: positiveInt(60_000),
  /** Per Evolution instance (the seed's 10 messages per minute). */
  EVOLUTION_RATE_PER_MINUTE: positiveInt(10),
  /**
   * The fallback chain's alternate provider: a message the primary could not send is tried once
   * through it (with its own settings: EVOLUTION_* or WHATSAPP_ACCESS_TOKEN and
   * WHATSAPP_FALLBACK_PHONE_NUMBER_ID). Unset: no alternate.
   */
  WHATSAPP_FALLBACK_PROVIDER: z.enum(['cloud', 'evolution']).optional(),
  /** The business number (phone_number_id) the Cloud API sends from when it is the alternate. */
  WHATSAPP_FALLBACK_PHONE_NUMBER_ID: optionalString,
  /** A pause before the bot's reply goes out, while the contact sees "typing…" (0: none). */
  REPLY_DELAY_MS: z.coerce.number().int().min(0).max(25_000).default(0),
  /** Mark the contact's messages as read, with the typing indicator, when the bot starts on them. */
  MARK_READ: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /**
   * The template equivalent of a bot reply outside the 24-hour window: an approved template with
   * one body parameter, which gets the reply. Unset: such a reply goes to the manual queue.
   */
  REPLY_TEMPLATE_NAME: optionalString,
  REPLY_TEMPLATE_LANGUAGE: z.string().min(2).default('pt_BR'),
  DEBOUNCE_MS: z.coerce.number().int().min(0).default(2000),
  /** A contact who keeps typing is answered after at most this long (default 3 × DEBOUNCE_MS). */
  DEBOUNCE_MAX_WAIT_MS: z.coerce.number().int().min(0).optional(),
  /** Consecutive failed turns (the engine could not answer) before a person takes over. */
  HANDOFF_AFTER_FAILED_TURNS: positiveInt(3),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: z.string().url().optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** The system prompt operators edit; default: apps/worker/prompts/system.md. */
  OPENAI_SYSTEM_PROMPT_PATH: optionalString,
  OPENAI_TIMEOUT_MS: positiveInt(20_000),
  OPENAI_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Handoff notifications: each channel is on when its settings are present. */
  SMTP_URL: optionalString,
  HANDOFF_EMAIL_TO: optionalString,
  HANDOFF_EMAIL_FROM: z.string().default('zapflow <zapflow@localhost>'),
  HANDOFF_CRM_URL: z.string().url().optional(),
  /** Signs the CRM request body (HMAC-SHA256, header X-Zapflow-Signature-256). */
  HANDOFF_CRM_SECRET: optionalString,
  /** The team's WhatsApp number (wa_id) that is told about each handoff. */
  HANDOFF_WHATSAPP_TO: optionalString,
};

export const schedulerEnv = {
  ...baseEnv,
  SCHEDULER_METRICS_PORT: port(9465),
  INBOX_SWEEP_AFTER_MS: positiveInt(60_000),
  /** How often the sweeper runs; by default four times per grace period. */
  INBOX_SWEEP_EVERY_MS: z.coerce.number().int().positive().optional(),
  /** A conversation with a person and no message either way for this long goes back to the bot. */
  HANDOFF_IDLE_RELEASE_MS: positiveInt(12 * 3600 * 1000),
};

/** The secret development uses when none is set, so `npm run chat` can sign webhooks. */
export const DEVELOPMENT_APP_SECRET = 'zapflow-development-app-secret';
