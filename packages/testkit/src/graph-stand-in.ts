import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the stand-in answered with success: the provider "accepted" this message. */
export interface AcceptedMessage {
  phoneNumberId: string;
  apiVersion: string;
  body: Record<string, unknown>;
  wamid: string;
  at: number;
}

/**
 * What to do with the next request: fail it, delay it, hold it open until released, or accept
 * it and answer only after `ms` (the provider has the message even if the client gave up: a
 * timeout whose answer was lost).
 */
export type Behaviour =
  | { kind: 'fail'; status: number; body?: unknown }
  | { kind: 'delay'; ms: number }
  | { kind: 'hold' }
  | { kind: 'accept-late'; ms: number };

/**
 * A stand-in for Meta's Graph API on 127.0.0.1: `POST /{version}/{phone_number_id}/messages`
 * answers like the Cloud API and records what it accepted. Tests script faults per request.
 * A request whose client went away before the answer (a killed worker) is not counted as
 * accepted, as a real provider would not have confirmed it either.
 */
export class GraphStandIn {
  readonly accepted: AcceptedMessage[] = [];
  readonly requests: { path: string; authorization: string | undefined; body: unknown }[] = [];
  private readonly plan: Behaviour[] = [];
  private readonly plans = new Map<string, Behaviour[]>();
  private storm: { until: number; failures: Extract<Behaviour, { kind: 'fail' }>[]; next: number } | undefined;
  /** Message sends (not read receipts) a storm refused: a storm that met no traffic tested nothing. */
  refusedByStorm = 0;
  private readonly held: { release: () => void }[] = [];
  private readonly holdWaiters: (() => void)[] = [];
  private server?: http.Server;
  private counter = 0;

  constructor(private readonly accessToken = 'test-access-token') {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('GraphStandIn is not listening; call start() first');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Queue behaviours for the next requests, in order; requests past the plan succeed. */
  next(...behaviours: Behaviour[]): void {
    this.plan.push(...behaviours);
  }

  /** Every request fails for `ms`, taking the given failures in turn (an outage: 500s, 429s). */
  stormFor(ms: number, ...failures: Extract<Behaviour, { kind: 'fail' }>[]): void {
    this.storm = { until: Date.now() + ms, failures, next: 0 };
  }

  /** Queue behaviours for the next messages to one recipient (`to`); they go before the shared plan. */
  nextFor(to: string, ...behaviours: Behaviour[]): void {
    this.plans.set(to, [...(this.plans.get(to) ?? []), ...behaviours]);
  }

  /** Everything accepted for `to`, in order. */
  acceptedFor(to: string): AcceptedMessage[] {
    return this.accepted.filter((m) => m.body.to === to);
  }

  /** Resolves once a request is being held open (after `next({ kind: 'hold' })`). */
  whenHolding(): Promise<void> {
    if (this.held.length) return Promise.resolve();
    return new Promise((resolve) => this.holdWaiters.push(resolve));
  }

  releaseHeld(): void {
    for (const h of this.held.splice(0)) h.release();
  }

  /** Accepted text messages sent to `to`. */
  textsTo(to: string): string[] {
    return this.accepted
      .filter((m) => m.body.to === to)
      .map((m) => String((m.body.text as { body?: unknown } | undefined)?.body ?? ''));
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.releaseHeld();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let clientGone = false;
    res.once('close', () => {
      clientGone = !res.writableFinished;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return this.reply(res, 400, { error: { message: 'Invalid JSON', type: 'OAuthException', code: 100 } });
    }
    this.requests.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
    const match = /^\/(v\d+\.\d+)\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      return this.reply(res, 404, { error: { message: 'Unknown path', code: 100 } });
    }
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) {
      return this.reply(res, 401, {
        error: { message: 'Invalid OAuth access token', type: 'OAuthException', code: 190 },
      });
    }
    const own = typeof body.to === 'string' ? this.plans.get(body.to) : undefined;
    const storm = this.storm && Date.now() < this.storm.until ? this.storm : undefined;
    if (storm && body.status !== 'read') this.refusedByStorm++;
    const behaviour = storm
      ? storm.failures[storm.next++ % storm.failures.length]
      : own?.length
        ? own.shift()
        : this.plan.shift();
    if (behaviour?.kind === 'fail') {
      return this.reply(
        res,
        behaviour.status,
        behaviour.body ?? { error: { message: 'stand-in failure', code: 131000 } },
      );
    }
    if (behaviour?.kind === 'delay') await new Promise((r) => setTimeout(r, behaviour.ms));
    if (behaviour?.kind === 'accept-late') {
      const wamid = `wamid.standin.${++this.counter}`;
      const [, apiVersion = '', phoneNumberId = ''] = match;
      this.accepted.push({ phoneNumberId, apiVersion, body, wamid, at: Date.now() });
      await new Promise((r) => setTimeout(r, behaviour.ms));
      if (!res.destroyed) {
        this.reply(res, 200, { messaging_product: 'whatsapp', contacts: [], messages: [{ id: wamid }] });
      }
      return;
    }
    if (behaviour?.kind === 'hold') {
      await new Promise<void>((resolve) => {
        this.held.push({ release: resolve });
        res.once('close', resolve);
        for (const w of this.holdWaiters.splice(0)) w();
      });
    }
    if (clientGone) return; // the client went away before the answer: nothing was confirmed
    if (body.status === 'read') return this.reply(res, 200, { success: true });
    const wamid = `wamid.standin.${++this.counter}`;
    const [, apiVersion = '', phoneNumberId = ''] = match;
    res.once('finish', () => this.accepted.push({ phoneNumberId, apiVersion, body, wamid, at: Date.now() }));
    this.reply(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: body.to, wa_id: body.to }],
      messages: [{ id: wamid }],
    });
  }

  private reply(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
}
