import path from 'node:path';
import type { Db } from '@zapflow/db';
import type { WorkerConfig } from '../config';
import { catalogTools } from './catalog-tools';
import type { ConversationEngine } from './engine';
import { LocalEngine } from './local-engine';
import { OpenAIEngine } from './openai-engine';

/** Where the default system prompt lives, from src/ or dist/ alike. */
export const DEFAULT_SYSTEM_PROMPT_PATH = path.join(__dirname, '..', '..', 'prompts', 'system.md');

/** OpenAI (or any compatible server) when a key is set; otherwise the built-in local engine. */
export async function createEngine(config: WorkerConfig, db: Db): Promise<ConversationEngine> {
  const tools = catalogTools(db);
  if (!config.OPENAI_API_KEY) return new LocalEngine(tools);
  return new OpenAIEngine({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    model: config.OPENAI_MODEL,
    systemPrompt: await OpenAIEngine.loadSystemPrompt(config.OPENAI_SYSTEM_PROMPT_PATH ?? DEFAULT_SYSTEM_PROMPT_PATH),
    timeoutMs: config.OPENAI_TIMEOUT_MS,
    maxRetries: config.OPENAI_MAX_RETRIES,
    tools,
  });
}
