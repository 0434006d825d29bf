import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  format?: 'pretty' | 'json' | undefined;
  nodeEnv?: string;
  /** No output at all (tests that provoke errors on purpose). */
  silent?: boolean;
}

// Keys whose values never reach a log line, wherever they appear in the metadata.
const SECRET_KEYS = /authorization|token|secret|password|apikey|api_key|cookie/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

/**
 * Structured logs: JSON in production (one object per line, for a collector), readable lines in
 * development. Callers pass ids (messageId, jobId, conversationId) as metadata, not in the text,
 * so they can be searched.
 */
export function createLogger({
  service,
  level = 'info',
  format,
  nodeEnv = 'development',
  silent = false,
}: LoggerOptions): Logger {
  const json = (format ?? (nodeEnv === 'production' ? 'json' : 'pretty')) === 'json';
  return skipDisabledLevels(
    winston.createLogger({
      level,
      silent,
      defaultMeta: { service },
      format: winston.format.combine(
        redact(),
        winston.format.errors({ stack: true }),
        winston.format.timestamp(),
        json
          ? winston.format.json()
          : winston.format.printf(({ timestamp, level: lvl, message, service: svc, stack, ...meta }) => {
              const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
              return `${String(timestamp)} ${String(svc)} ${lvl}: ${String(message)}${rest}${stack ? `\n${String(stack)}` : ''}`;
            }),
      ),
      transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
    }),
  );
}

/**
 * winston formats every entry (redaction, timestamp, JSON) before its transport drops the ones
 * below the level, so a `debug` line on every job cost a serialisation even at `info`. The level
 * methods now return at once for a level nothing would print. Set on the logger itself, with
 * `this`, so child loggers (which inherit them) still write through their own metadata.
 */
function skipDisabledLevels(logger: winston.Logger): winston.Logger {
  const methods = logger as unknown as Record<string, (...args: unknown[]) => winston.Logger>;
  for (const level of Object.keys(logger.levels)) {
    const log = methods[level];
    if (typeof log !== 'function') continue;
    methods[level] = function (this: winston.Logger | undefined, ...args: unknown[]) {
      // Called detached (`.catch(log.warn)`), winston falls back to the logger; so does this.
      const self = this ?? logger;
      return self.isLevelEnabled(level) ? log.apply(self, args) : self;
    };
  }
  return logger;
}

/** A log-safe view of an error: its name, message and, for provider errors, their code. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { error: error.message, errorName: error.name, ...(code !== undefined ? { errorCode: code } : {}) };
  }
  return { error: String(error) };
}
