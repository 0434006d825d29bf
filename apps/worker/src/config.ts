import { loadConfig, productionSafety, providerRequirements, workerEnv } from '@zapflow/config';

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(workerEnv, env, [providerRequirements, productionSafety]);
}
