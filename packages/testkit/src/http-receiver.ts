import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An answer chosen by `respond`: the status (200 unless given) and a body sent as JSON. */
export interface ReceiverResponse {
  status?: number;
  body?: unknown;
}

/**
 * A plain HTTP endpoint on 127.0.0.1 that records what it receives (a CRM, any webhook target).
 * `failNext(n, status)` makes the next n requests fail. `respond`, when set, answers every other
 * request (a provider's reply, an error body); it may be async, to hold an answer back (a
 * timeout). A request is recorded before it is answered.
 */
export class HttpReceiver {
  readonly received: ReceivedRequest[] = [];
  respond?: (request: ReceivedRequest) => ReceiverResponse | Promise<ReceiverResponse>;
  private failures: number[] = [];
  private server?: http.Server;

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('HttpReceiver is not listening; call start() first');
    return `http://127.0.0.1:${address.port}`;
  }

  failNext(count: number, status = 500): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.received.push(request);
        const failure = this.failures.shift();
        if (failure === undefined && this.respond) {
          void this.answer(res, request, this.respond);
          return;
        }
        res.writeHead(failure ?? 200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: !failure }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  private async answer(
    res: http.ServerResponse,
    request: ReceivedRequest,
    respond: NonNullable<HttpReceiver['respond']>,
  ): Promise<void> {
    let response: ReceiverResponse;
    try {
      response = await respond(request);
    } catch (error) {
      response = { status: 500, body: { error: String(error) } };
    }
    // The client may have given up (a timeout) while the answer was held back.
    if (res.destroyed) return;
    res
      .writeHead(response.status ?? 200, { 'Content-Type': 'application/json' })
      .end(JSON.stringify(response.body ?? { ok: true }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
