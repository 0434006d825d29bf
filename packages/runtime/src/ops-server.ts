import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { closerFor } from './http-close';

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The small HTTP server of a deployable without an API (worker, scheduler): `/health` while the
 * process runs and its own check passes, `/metrics` in Prometheus format. Port 0 picks a free one.
 */
export async function startOpsServer({
  port,
  registry,
  health,
}: {
  port: number;
  registry: Registry;
  health: () => Promise<{ ok: boolean; detail?: Record<string, unknown> }>;
}): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type }).end(body);
    };
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, registry.contentType, text),
        (error: Error) => reply(500, 'text/plain', error.message),
      );
    } else if (req.url === '/health' || req.url === '/ready') {
      health().then(
        ({ ok, detail }) =>
          reply(ok ? 200 : 503, 'application/json', JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...detail })),
        (error: Error) =>
          reply(503, 'application/json', JSON.stringify({ status: 'unavailable', error: error.message })),
      );
    } else {
      reply(
        404,
        'application/json',
        JSON.stringify({ error: { code: 'not_found', message: 'try /health or /metrics' } }),
      );
    }
  });
  const close = closerFor(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  return { port: (server.address() as AddressInfo).port, close };
}
