import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A plain HTTP endpoint on 127.0.0.1 that records what it receives (a CRM, any webhook target).
 * `failNext(n, status)` makes the next n requests fail.
 */
export class HttpReceiver {
  readonly received: ReceivedRequest[] = [];
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
        this.received.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const failure = this.failures.shift();
        res.writeHead(failure ?? 200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: !failure }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
