import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { OpenAIStandIn } from '@zapflow/testkit';
import { EngineError, type CatalogItemView, type EngineInput, type EngineTools } from './engine';
import { OpenAIEngine, type OpenAIEngineOptions } from './openai-engine';

const SYSTEM_PROMPT = 'Você é o assistente de testes.';
const MODEL = 'gpt-test-mini';

const COROLLA: CatalogItemView = {
  sku: 'COROLLA-2022-XEI',
  name: 'Toyota Corolla XEi 2.0 2022',
  category: 'sedan',
  price: 128_900,
  currency: 'BRL',
  attributes: { km: 31_000, color: 'prata' },
  previousPrice: 134_900,
};
const CIVIC: CatalogItemView = {
  sku: 'CIVIC-2021-EXL',
  name: 'Honda Civic EXL 2021',
  category: 'sedan',
  price: 119_500,
  currency: 'BRL',
  attributes: { km: 45_000 },
};

/** An in-memory catalog that records what it was asked. */
class MemoryCatalog implements EngineTools {
  readonly searches: { query: string; limit: number | undefined }[] = [];
  constructor(private readonly items: CatalogItemView[]) {}
  async searchCatalog(query: string, limit?: number): Promise<CatalogItemView[]> {
    this.searches.push({ query, limit });
    return this.items.slice(0, limit);
  }
}

function input(overrides: Partial<EngineInput> = {}): EngineInput {
  return {
    conversationId: 'conv-1',
    contact: { name: 'Ana Souza', waId: '5511999990000' },
    messages: [{ type: 'text', text: 'Oi, tudo bem?' }],
    history: [],
    context: {},
    ...overrides,
  };
}

async function engineError(promise: Promise<unknown>): Promise<EngineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

type SentMessage = { role: string; content?: unknown; tool_call_id?: string; tool_calls?: unknown };

describe('OpenAIEngine', () => {
  let standIn: OpenAIStandIn;
  let catalog: MemoryCatalog;

  beforeEach(async () => {
    standIn = await new OpenAIStandIn().start();
    catalog = new MemoryCatalog([COROLLA, CIVIC]);
  });
  afterEach(async () => {
    await standIn.stop();
  });

  function engine(overrides: Partial<OpenAIEngineOptions> = {}): OpenAIEngine {
    return new OpenAIEngine({
      apiKey: standIn.apiKey,
      baseURL: standIn.url,
      model: MODEL,
      systemPrompt: SYSTEM_PROMPT,
      timeoutMs: 5_000,
      maxRetries: 0,
      tools: catalog,
      ...overrides,
    });
  }

  function sent(request = 0): SentMessage[] {
    return standIn.bodies[request]?.messages as SentMessage[];
  }

  it('answers with the model text, trimmed, and its token usage', async () => {
    standIn.next({
      kind: 'text',
      content: '  Olá, Ana! Como posso ajudar?  \n',
      usage: { prompt_tokens: 42, completion_tokens: 7 },
    });

    const reply = await engine().reply(input());

    expect(reply).toEqual({
      engine: 'openai',
      replies: [{ type: 'text', body: 'Olá, Ana! Como posso ajudar?' }],
      tokensIn: 42,
      tokensOut: 7,
    });
  });

  it('sends the system prompt, then the contact and context, the history and each message of a burst', async () => {
    await engine().reply(
      input({
        context: { stage: 'browsing', interests: ['CIVIC-2021-EXL'] },
        history: [
          { direction: 'inbound', text: 'Bom dia' },
          { direction: 'outbound', text: 'Bom dia! Como posso ajudar?' },
        ],
        messages: [
          { type: 'text', text: 'Quero um sedan' },
          { type: 'text', text: 'até 130 mil' },
        ],
      }),
    );

    const messages = sent();
    expect(messages.map((m) => m.role)).toEqual(['system', 'system', 'user', 'assistant', 'user', 'user']);
    expect(messages[0]?.content).toBe(SYSTEM_PROMPT);
    expect(messages[1]?.content).toContain('Ana Souza');
    expect(messages[1]?.content).toContain('{"stage":"browsing","interests":["CIVIC-2021-EXL"]}');
    expect(messages.slice(2).map((m) => m.content)).toEqual([
      'Bom dia',
      'Bom dia! Como posso ajudar?',
      'Quero um sedan',
      'até 130 mil',
    ]);
  });

  it('sends a message without text as its type', async () => {
    await engine().reply(
      input({
        messages: [
          { type: 'image', text: null },
          { type: 'image', text: 'esse aqui' },
        ],
      }),
    );

    expect(
      sent()
        .slice(-2)
        .map((m) => m.content),
    ).toEqual(['[image]', '[image] esse aqui']);
  });

  it('sends the model, the tools and the API key as a bearer token', async () => {
    await engine().reply(input());

    expect(standIn.requests[0]?.authorization).toBe(`Bearer ${standIn.apiKey}`);
    const body = standIn.bodies[0]!;
    expect(body.model).toBe(MODEL);
    const tools = body.tools as { function: { name: string } }[];
    expect(tools.map((t) => t.function.name).sort()).toEqual(['hand_to_human', 'remember', 'search_catalog']);
  });

  it('hands off to a person with the reason and the text the model gave', async () => {
    standIn.next({
      kind: 'tool',
      name: 'hand_to_human',
      args: { reason: 'cliente pediu um vendedor' },
      content: 'Claro! Já chamo um vendedor.',
    });

    const reply = await engine().reply(input({ messages: [{ type: 'text', text: 'Quero falar com um vendedor' }] }));

    expect(reply.handoff).toEqual({ reason: 'cliente pediu um vendedor' });
    expect(reply.replies).toEqual([{ type: 'text', body: 'Claro! Já chamo um vendedor.' }]);
    expect(standIn.requests).toHaveLength(1);
  });

  it('hands off with a default message when the model gave no text', async () => {
    standIn.next({ kind: 'tool', name: 'hand_to_human', args: { reason: 'reclamação' } });

    const reply = await engine().reply(input());

    expect(reply.handoff).toEqual({ reason: 'reclamação' });
    expect(reply.replies[0]?.body).toMatch(/^Vou chamar uma pessoa da equipe/);
  });

  it('searches the catalog, sends the results back to the model and returns its answer', async () => {
    standIn.next(
      { kind: 'tool', name: 'search_catalog', args: { query: 'sedan até 130 mil' } },
      { kind: 'text', content: 'Tenho o Corolla XEi 2022 por R$ 128.900.' },
    );

    const reply = await engine().reply(input({ messages: [{ type: 'text', text: 'Tem sedan até 130 mil?' }] }));

    expect(catalog.searches).toEqual([{ query: 'sedan até 130 mil', limit: 5 }]);
    const second = sent(1);
    const call = (second.at(-2)?.tool_calls as { id: string }[] | undefined)?.[0];
    expect(second.at(-2)?.role).toBe('assistant');
    expect(second.at(-1)).toMatchObject({ role: 'tool', tool_call_id: call?.id });
    const results = JSON.parse(String(second.at(-1)?.content)) as { items: { sku: string; price: number }[] };
    expect(results.items.map((i) => [i.sku, i.price])).toEqual([
      ['COROLLA-2022-XEI', 128_900],
      ['CIVIC-2021-EXL', 119_500],
    ]);
    expect(reply.replies).toEqual([{ type: 'text', body: 'Tenho o Corolla XEi 2022 por R$ 128.900.' }]);
    expect(reply.interests).toEqual(['COROLLA-2022-XEI', 'CIVIC-2021-EXL']);
  });

  it('sums the token usage over the calls of a turn', async () => {
    standIn.next(
      {
        kind: 'tool',
        name: 'search_catalog',
        args: { query: 'suv' },
        usage: { prompt_tokens: 100, completion_tokens: 10 },
      },
      { kind: 'text', content: 'Temos opções!', usage: { prompt_tokens: 180, completion_tokens: 20 } },
    );

    const reply = await engine().reply(input());

    expect([reply.tokensIn, reply.tokensOut]).toEqual([280, 30]);
  });

  it('returns what the model asked to remember as context', async () => {
    standIn.next(
      { kind: 'tool', name: 'remember', args: { name: 'Aninha', stage: 'scheduling', appointment: 'sábado de manhã' } },
      { kind: 'text', content: 'Anotado, Aninha!' },
    );

    const reply = await engine().reply(input());

    expect(reply.context).toEqual({ name: 'Aninha', stage: 'scheduling', appointment: 'sábado de manhã' });
    expect(sent(1).at(-1)).toMatchObject({ role: 'tool', content: '{"ok":true}' });
  });

  it('asks for an answer without tools after three rounds of tool calls', async () => {
    const search = { kind: 'tool', name: 'search_catalog', args: { query: 'suv' } } as const;
    standIn.next(search, search, search, { kind: 'text', content: 'Essas são as opções.' });

    const reply = await engine().reply(input());

    expect(standIn.bodies.map((b) => b.tool_choice)).toEqual(['auto', 'auto', 'auto', 'none']);
    expect(reply.replies[0]?.body).toBe('Essas são as opções.');
  });

  it('fails with an EngineError when the model gives no text', async () => {
    standIn.next({ kind: 'text', content: '   ' });

    const error = await engineError(engine().reply(input()));

    expect(error.message).toContain('no text');
  });

  it('succeeds after a 500 when the SDK retries', async () => {
    standIn.next({ kind: 'fail', status: 500 }, { kind: 'text', content: 'Oi!' });

    const reply = await engine({ maxRetries: 2 }).reply(input());

    expect(reply.replies[0]?.body).toBe('Oi!');
    expect(standIn.requests).toHaveLength(2);
  });

  it('succeeds after a 429 when the SDK retries', async () => {
    standIn.next(
      {
        kind: 'fail',
        status: 429,
        body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
      },
      { kind: 'text', content: 'Oi!' },
    );

    const reply = await engine({ maxRetries: 2 }).reply(input());

    expect(reply.replies[0]?.body).toBe('Oi!');
    expect(standIn.requests).toHaveLength(2);
  });

  it('fails with a retryable EngineError when 500s outlast the retries', async () => {
    standIn.next({ kind: 'fail', status: 500 }, { kind: 'fail', status: 500 }, { kind: 'fail', status: 500 });

    const error = await engineError(engine({ maxRetries: 2 }).reply(input()));

    expect(standIn.requests).toHaveLength(3);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('HTTP 500');
    expect(error.message).toContain(MODEL);
    expect(error.message).toContain(new URL(standIn.url).host);
  });

  it('fails at once on a 401, naming OPENAI_API_KEY and never quoting the key', async () => {
    const wrongKey = 'sk-wrong-key-0123456789abcdef';

    const error = await engineError(engine({ apiKey: wrongKey, maxRetries: 2 }).reply(input()));

    expect(standIn.requests).toHaveLength(1);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('OPENAI_API_KEY');
    expect(error.message).not.toContain(wrongKey);
    expect(error.message).not.toContain('0123456789abcdef');
  });

  it('fails with a retryable EngineError when the provider does not answer in time', async () => {
    standIn.next({ kind: 'hang' });
    const started = Date.now();

    const error = await engineError(engine({ timeoutMs: 300, maxRetries: 0 }).reply(input()));

    // Under jest the SDK reports this as a connection error, not APIConnectionTimeoutError: fetch's
    // AbortError comes from Node's realm, fails the SDK's `instanceof Error` in jest's sandbox and
    // loses its name. Plain Node gets "no answer within 300 ms". Both are retryable EngineErrors.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(standIn.requests).toHaveLength(1);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(new URL(standIn.url).host);
    expect(error.message).not.toContain(standIn.apiKey);
  });

  it('loads the default system prompt', async () => {
    const prompt = await OpenAIEngine.loadSystemPrompt(path.resolve(__dirname, '../../prompts/system.md'));

    expect(prompt).toContain('hand_to_human');
  });

  it('names the path of a missing system prompt', async () => {
    const missing = path.resolve(__dirname, '../../prompts/missing.md');

    await expect(OpenAIEngine.loadSystemPrompt(missing)).rejects.toThrow(`System prompt file not found: ${missing}`);
  });
});
