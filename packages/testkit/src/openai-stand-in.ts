import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Token counts the stand-in reports for one completion. */
export interface StandInUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * What to answer the next request with: a text message, a tool call (function calling), an
 * HTTP failure in OpenAI's error format, or no answer at all until `stop()` (for timeouts).
 */
export type ChatBehaviour =
  /** `delayMs` holds the answer back (a slow model), so a test can act while a turn runs. */
  | { kind: 'text'; content: string; usage?: StandInUsage; delayMs?: number }
  | { kind: 'tool'; name: string; args: unknown; content?: string; usage?: StandInUsage }
  | { kind: 'fail'; status: number; body?: unknown }
  | { kind: 'hang' };

/** A request the stand-in received, as sent. */
export interface ChatRequest {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

const DEFAULT_USAGE: StandInUsage = { prompt_tokens: 10, completion_tokens: 5 };

/**
 * A stand-in for an OpenAI-compatible API on 127.0.0.1: `POST /v1/chat/completions`
 * (non-streaming) answers in the Chat Completions format and records every request, so tests
 * can assert the messages and tools the engine sent. Tests script answers per request with
 * `next()`; requests past the plan get "ok: <last user text>".
 *
 * A wrong bearer key gets a 401 whose message quotes the key in full (OpenAI masks most of
 * it): stricter than the real API, so a test can prove the key never leaks into our errors.
 */
export class OpenAIStandIn {
  readonly requests: ChatRequest[] = [];
  private readonly plan: ChatBehaviour[] = [];
  private readonly hanging: (() => void)[] = [];
  private server?: http.Server;
  private counter = 0;

  constructor(readonly apiKey = 'sk-test-standin-key') {}

  /** The base URL to give the SDK (`baseURL`), ending in `/v1`. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('OpenAIStandIn is not listening; call start() first');
    return `http://127.0.0.1:${address.port}/v1`;
  }

  /** Queue answers for the next requests, in order. */
  next(...behaviours: ChatBehaviour[]): void {
    this.plan.push(...behaviours);
  }

  /** Bodies of the chat completion requests received, in order. */
  get bodies(): Record<string, unknown>[] {
    return this.requests.map((r) => r.body);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const release of this.hanging.splice(0)) release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return this.error(res, 404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error');
    }
    this.requests.push({ path, authorization: req.headers.authorization, body });
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      const given = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      return this.error(res, 401, `Incorrect API key provided: ${given}.`, 'invalid_request_error', 'invalid_api_key');
    }
    if (body.stream === true) {
      return this.error(res, 400, 'The stand-in does not stream.', 'invalid_request_error');
    }

    const behaviour = this.plan.shift() ?? { kind: 'text', content: `ok: ${lastUserText(body)}` };
    switch (behaviour.kind) {
      case 'fail':
        return this.reply(
          res,
          behaviour.status,
          behaviour.body ?? {
            error: { message: 'The stand-in failed on purpose.', type: 'server_error', param: null, code: null },
          },
        );
      case 'hang':
        // Never answer; `stop()` or the client giving up ends it.
        await new Promise<void>((resolve) => {
          this.hanging.push(resolve);
          res.once('close', resolve);
        });
        return;
      case 'text':
        if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
        return this.completion(
          res,
          body,
          { role: 'assistant', content: behaviour.content, refusal: null },
          'stop',
          behaviour.usage,
        );
      case 'tool':
        return this.completion(
          res,
          body,
          {
            role: 'assistant',
            content: behaviour.content ?? null,
            refusal: null,
            tool_calls: [
              {
                id: `call_standin_${++this.counter}`,
                type: 'function',
                function: { name: behaviour.name, arguments: JSON.stringify(behaviour.args) },
              },
            ],
          },
          'tool_calls',
          behaviour.usage,
        );
    }
  }

  private completion(
    res: http.ServerResponse,
    body: Record<string, unknown>,
    message: Record<string, unknown>,
    finishReason: string,
    usage: StandInUsage = DEFAULT_USAGE,
  ): void {
    this.reply(res, 200, {
      id: `chatcmpl-standin-${++this.counter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : 'unknown',
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    });
  }

  private error(res: http.ServerResponse, status: number, message: string, type: string, code: string | null = null) {
    this.reply(res, status, { error: { message, type, param: null, code } });
  }

  private reply(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
}

/** The text of the last user message (string content or text parts). */
function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as { role?: unknown; content?: unknown }[]) : [];
  const last = messages.filter((m) => m.role === 'user').at(-1);
  if (typeof last?.content === 'string') return last.content;
  if (Array.isArray(last?.content)) {
    return (last.content as { type?: unknown; text?: unknown }[])
      .filter((p) => p.type === 'text' && typeof p.text === 'string')
      .map((p) => p.text as string)
      .join(' ');
  }
  return '';
}
