import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Graph API stand-in that answers every send at once and notes when each contact's first reply
 * arrived: the end of the path being measured.
 */
export class ReplyClock {
  readonly replyAt = new Map<string, number>();
  private server?: http.Server;
  private counter = 0;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { to?: string; status?: string };
        if (body.to && !this.replyAt.has(body.to)) this.replyAt.set(body.to, performance.now());
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify(body.status ? { success: true } : { messages: [{ id: `wamid.bench.${++this.counter}` }] }),
        );
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
