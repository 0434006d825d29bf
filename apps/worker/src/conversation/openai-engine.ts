import { readFile } from 'node:fs/promises';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import {
  EngineError,
  type CatalogItemView,
  type ConversationContext,
  type ConversationEngine,
  type EngineInput,
  type EngineReply,
  type EngineTools,
} from './engine';

export interface OpenAIEngineOptions {
  apiKey: string;
  /** An OpenAI-compatible API, ending in `/v1`; the SDK's default (api.openai.com) if unset. */
  baseURL?: string;
  model: string;
  systemPrompt: string;
  /** Per request, including each of the SDK's retries. */
  timeoutMs: number;
  /** Retries the SDK makes on 408/409/429/5xx, timeouts and connection errors, with backoff. */
  maxRetries: number;
  tools: EngineTools;
}

/** Rounds of tool calls per turn; the next request then asks for an answer without tools. */
const MAX_TOOL_ROUNDS = 3;
const CATALOG_LIMIT = 5;
/** Earlier messages sent to the model: enough for the thread, bounded in tokens. */
const HISTORY_LIMIT = 20;
const STAGES = ['greeting', 'browsing', 'interested', 'scheduling', 'scheduled', 'closed'] as const;

const HANDOFF_TEXT: Record<'pt' | 'en', string> = {
  pt: 'Vou chamar uma pessoa da equipe para falar com você. Um momento, por favor.',
  en: "I'll bring in someone from our team to talk to you. One moment, please.",
};

const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'search_catalog',
      description:
        'Search the dealership catalog (cars in stock, with prices). Use it before mentioning any price, ' +
        'model, version or availability. The query is free text, e.g. "SUV", "corolla 2022", "até 100 mil".',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string', description: 'What the customer is looking for.' } },
        required: ['query'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'hand_to_human',
      description:
        'Hand the conversation to a person from the team: when the customer asks for a person, ' +
        'or when you cannot help (negotiation, financing approval, complaints, anything outside the catalog).',
      parameters: {
        type: 'object',
        properties: { reason: { type: 'string', description: 'Why, in a few words, for the team.' } },
        required: ['reason'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'remember',
      description:
        'Save facts about the customer for the next messages: the name they want to be called, ' +
        'where the sale stands, a visit or test drive they asked for (as they said it), their language.',
      parameters: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          stage: { type: 'string', enum: [...STAGES] },
          appointment: { type: 'string' },
          language: { type: 'string', enum: ['pt', 'en'] },
        },
      },
    },
  },
];

/**
 * The engine behind an OpenAI-compatible Chat Completions API, with function calling for the
 * catalog, handoff to a person, and remembering facts about the contact. Retries (429, 5xx,
 * timeouts, connection errors) are the SDK's; when it gives up, or on another 4xx, the turn fails
 * with an `EngineError` that says what failed and what the operator can check. The API key is
 * never part of a message.
 */
export class OpenAIEngine implements ConversationEngine {
  readonly name = 'openai';
  private readonly client: OpenAI;
  private readonly host: string;

  constructor(private readonly options: OpenAIEngineOptions) {
    if (!options.apiKey) throw new Error('OpenAIEngine needs an API key: set OPENAI_API_KEY');
    if (!options.model) throw new Error('OpenAIEngine needs a model: set OPENAI_MODEL');
    if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
      throw new Error(`OpenAIEngine timeoutMs must be a positive integer, got ${options.timeoutMs}`);
    }
    if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) {
      throw new Error(`OpenAIEngine maxRetries must be a non-negative integer, got ${options.maxRetries}`);
    }
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
    this.host = hostOf(this.client.baseURL);
  }

  /** Reads a system prompt file (e.g. `apps/worker/prompts/system.md`); fails naming the path. */
  static async loadSystemPrompt(path: string): Promise<string> {
    let text: string;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'ENOENT'
          ? `System prompt file not found: ${path} (check OPENAI_SYSTEM_PROMPT_PATH)`
          : `System prompt file ${path} could not be read: ${(err as Error).message}`,
      );
    }
    if (!text) throw new Error(`System prompt file is empty: ${path}`);
    return text;
  }

  async reply(input: EngineInput): Promise<EngineReply> {
    const messages = this.prompt(input);
    const remembered: Partial<ConversationContext> = {};
    const interests: string[] = [];
    let tokensIn = 0;
    let tokensOut = 0;

    for (let round = 0; ; round++) {
      const toolsAllowed = round < MAX_TOOL_ROUNDS;
      const completion = await this.complete(messages, toolsAllowed);
      tokensIn += completion.usage?.prompt_tokens ?? 0;
      tokensOut += completion.usage?.completion_tokens ?? 0;
      const choice = completion.choices[0];
      if (!choice) throw this.failure(`the answer had no choices`, 'Check that OPENAI_MODEL is a chat model.');
      const { message } = choice;
      const text = message.content?.trim() ?? '';
      const calls = toolsAllowed ? (message.tool_calls ?? []) : [];

      const done = (extra: Pick<EngineReply, 'handoff' | 'replies'>): EngineReply => ({
        engine: this.name,
        ...extra,
        ...(Object.keys(remembered).length ? { context: remembered } : {}),
        ...(interests.length ? { interests } : {}),
        tokensIn,
        tokensOut,
      });

      if (calls.length === 0) {
        if (!text) {
          throw this.failure(
            `the model gave no text (finish_reason ${choice.finish_reason})`,
            'Check the system prompt and OPENAI_MODEL.',
          );
        }
        return done({ replies: [{ type: 'text', body: text }] });
      }

      const handoff = calls.find((c) => c.type === 'function' && c.function.name === 'hand_to_human');
      if (handoff?.type === 'function') {
        for (const call of calls) {
          if (call.type === 'function' && call.function.name === 'remember') this.remember(call, remembered);
        }
        const reason = stringArg(parseArgs(handoff), 'reason') ?? 'the model asked for a person';
        const language = remembered.language ?? input.context.language ?? 'pt';
        return done({ handoff: { reason }, replies: [{ type: 'text', body: text || HANDOFF_TEXT[language] }] });
      }

      messages.push({ role: 'assistant', content: message.content, tool_calls: message.tool_calls });
      for (const call of calls) {
        const result =
          call.type !== 'function'
            ? { error: `unknown tool ${call.custom.name}` }
            : call.function.name === 'search_catalog'
              ? await this.searchCatalog(call, interests)
              : call.function.name === 'remember'
                ? this.remember(call, remembered)
                : { error: `unknown tool ${call.function.name}` };
        messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
      }
    }
  }

  private prompt(input: EngineInput): ChatCompletionMessageParam[] {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: this.options.systemPrompt },
      {
        role: 'system',
        content:
          `Contact name (from WhatsApp): ${input.contact.name?.trim() || 'unknown'}\n` +
          `What we know about this contact: ${JSON.stringify(input.context)}`,
      },
    ];
    for (const m of input.history.slice(-HISTORY_LIMIT)) {
      messages.push({ role: m.direction === 'inbound' ? 'user' : 'assistant', content: m.text?.trim() || '[media]' });
    }
    for (const m of input.messages) {
      const text = m.text?.trim();
      const content = m.type === 'text' ? text || '[empty message]' : text ? `[${m.type}] ${text}` : `[${m.type}]`;
      messages.push({ role: 'user', content });
    }
    return messages;
  }

  private async complete(messages: ChatCompletionMessageParam[], toolsAllowed: boolean): Promise<ChatCompletion> {
    try {
      return await this.client.chat.completions.create({
        model: this.options.model,
        messages,
        tools: TOOLS,
        tool_choice: toolsAllowed ? 'auto' : 'none',
      });
    } catch (err) {
      throw this.translate(err);
    }
  }

  private async searchCatalog(call: ChatCompletionMessageFunctionToolCall, interests: string[]): Promise<object> {
    const query = stringArg(parseArgs(call), 'query');
    if (!query) return { error: 'search_catalog needs a query' };
    let items: CatalogItemView[];
    try {
      items = await this.options.tools.searchCatalog(query, CATALOG_LIMIT);
    } catch {
      return { error: 'The catalog is unavailable right now; do not quote prices. Offer a person from the team.' };
    }
    for (const item of items) if (!interests.includes(item.sku)) interests.push(item.sku);
    if (items.length === 0) return { items: [], note: 'No matching items in the catalog.' };
    return {
      items: items.map((i) => ({
        sku: i.sku,
        name: i.name,
        category: i.category,
        price: i.price,
        currency: i.currency,
        ...(i.previousPrice !== undefined ? { previousPrice: i.previousPrice } : {}),
        attributes: i.attributes,
      })),
    };
  }

  private remember(call: ChatCompletionMessageFunctionToolCall, into: Partial<ConversationContext>): object {
    const args = parseArgs(call);
    const name = stringArg(args, 'name');
    const stage = stringArg(args, 'stage');
    const appointment = stringArg(args, 'appointment');
    const language = stringArg(args, 'language');
    if (name) into.name = name.slice(0, 80);
    if (stage && (STAGES as readonly string[]).includes(stage)) into.stage = stage;
    if (appointment) into.appointment = appointment.slice(0, 200);
    if (language === 'pt' || language === 'en') into.language = language;
    return { ok: true };
  }

  /** An SDK error, after the SDK's own retries, as an EngineError an operator can act on. */
  private translate(err: unknown): unknown {
    const retries = this.options.maxRetries;
    if (err instanceof APIConnectionTimeoutError) {
      return this.failure(
        `no answer within ${this.options.timeoutMs} ms (after ${retries} retries)`,
        'Check that the provider is up, or raise OPENAI_TIMEOUT_MS.',
        true,
      );
    }
    if (err instanceof APIConnectionError) {
      return this.failure(
        `could not connect (after ${retries} retries): ${this.redact(err.message)}`,
        'Check OPENAI_BASE_URL and the network.',
        true,
      );
    }
    if (err instanceof APIError) {
      const status = err.status ?? 0;
      const detail = this.redact(providerMessage(err));
      const what = `HTTP ${status}${detail ? ` (${detail})` : ''}`;
      if (status === 401) return this.failure(`the API key was rejected: ${what}`, 'Check OPENAI_API_KEY.');
      if (status === 403) {
        return this.failure(`access denied: ${what}`, 'Check that the OPENAI_API_KEY may use OPENAI_MODEL.');
      }
      if (status === 404) return this.failure(`not found: ${what}`, 'Check OPENAI_MODEL and OPENAI_BASE_URL.');
      if (status === 429) {
        return this.failure(
          `rate limited after ${retries} retries: ${what}`,
          'Check the account quota and billing, or lower the load.',
          true,
        );
      }
      if (status >= 500) {
        return this.failure(`provider error after ${retries} retries: ${what}`, 'Try again later.', true);
      }
      return this.failure(`request refused: ${what}`, 'Check OPENAI_MODEL (it must support tools).');
    }
    return err;
  }

  private failure(what: string, action: string, retryable = false): EngineError {
    return new EngineError(
      `OpenAI request to ${this.host} with model ${this.options.model} failed: ${what}. ${action}`,
      retryable,
    );
  }

  /** Providers quote the key in some errors (OpenAI masks most of it); never pass it on. */
  private redact(text: string): string {
    return text
      .split(this.options.apiKey)
      .join('[redacted]')
      .replace(/\bsk-[\w*.-]+/g, 'sk-[redacted]');
  }
}

function providerMessage(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  // A JSON error body's message; otherwise the SDK's "<status> <text>" (a proxy's HTML page, say).
  const message =
    typeof body?.message === 'string' ? body.message : err.message.replace(/^\d{3} /, '').replace(/\s+/g, ' ');
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

function parseArgs(call: ChatCompletionMessageFunctionToolCall): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(call.function.arguments || '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function stringArg(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
