import { createLogger } from '@zapflow/logger';
import { exitOnStartupError, onShutdown, startOpsServer } from '@zapflow/runtime';
import { loadWorkerConfig } from './config';
import { createWorkerApp } from './worker-app';

async function main() {
  const config = loadWorkerConfig();
  const logger = createLogger({
    service: 'worker',
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    nodeEnv: config.NODE_ENV,
  });
  const app = await createWorkerApp(config, logger);
  const ops = await startOpsServer({
    port: config.WORKER_METRICS_PORT,
    registry: app.metrics.registry,
    health: app.health,
  });
  logger.info('worker running', {
    queues: app.workers.map((w) => w.name),
    concurrency: config.WORKER_CONCURRENCY,
    provider: app.provider,
    engine: app.engine,
    handoffChannels: config.handoffChannels,
    opsPort: ops.port,
  });
  onShutdown(logger, async () => {
    await app.close();
    await ops.close();
  });
}

main().catch(exitOnStartupError(undefined, 'worker'));
