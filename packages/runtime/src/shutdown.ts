import type { Logger } from '@zapflow/logger';
import { errorFields } from '@zapflow/logger';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. `stop` gets `timeoutMs` to finish (workers
 * wait for their active jobs); past that the process exits anyway: an unfinished job is retried
 * by another worker, never lost. A second signal exits at once.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, timeoutMs = 25_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    const timer = setTimeout(() => {
      logger.warn('shutdown took too long; exiting with work unfinished (it will be retried)', { timeoutMs });
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error('shutdown failed', errorFields(error));
        process.exit(1);
      });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Start-up failures print what went wrong and what to do, then exit non-zero. */
export function exitOnStartupError(logger: Logger | undefined, what: string) {
  return (error: unknown): never => {
    const message = error instanceof Error ? error.message : String(error);
    if (logger) logger.error(`${what} could not start: ${message}`, errorFields(error));
    else console.error(`${what} could not start: ${message}`);
    process.exit(1);
  };
}
