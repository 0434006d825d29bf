import type http from 'node:http';

/** How often, while closing, connections that have fallen idle are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * Returns a `close()` for `server` that ends even while keep-alive clients keep it busy. Call it
 * when the server is created. `server.close()` alone refuses new connections and closes the idle
 * ones, but a connection whose client sends its next request the moment it has an answer (Meta
 * delivering to a busy number, a load balancer) is never idle, and holds the shutdown open until
 * the orchestrator kills the process mid-request. From `close()` on, every request is answered
 * with `Connection: close`, and a connection that falls idle after its last answer is closed.
 */
export function closerFor(server: http.Server): () => Promise<void> {
  let closing = false;
  // Ahead of the app's own listener, so the header is set before any answer is written.
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
  });
  return () => {
    closing = true;
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    return new Promise<void>((resolve) =>
      server.close(() => {
        clearInterval(sweep);
        resolve();
      }),
    );
  };
}
