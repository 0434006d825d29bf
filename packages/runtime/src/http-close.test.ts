import { expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closerFor } from './http-close';

/** A server whose answers take `answerMs`, with keep-alive longer than any test waits. */
async function slowServer(answerMs: number) {
  const server = http.createServer((_req, res) => void setTimeout(() => res.end('ok'), answerMs));
  server.keepAliveTimeout = 120_000;
  const close = closerFor(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, close, port: (server.address() as AddressInfo).port };
}

function get(port: number, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      })
      .on('error', reject);
  });
}

it('answers the request in flight, then closes its connection once it falls idle', async () => {
  // Node's own close() leaves such a connection open until its keep-alive timeout (here 2 min).
  const { server, close, port } = await slowServer(300);
  const agent = new http.Agent({ keepAlive: true });
  const arrived = new Promise((resolve) => server.once('request', resolve));
  const answer = get(port, agent);
  await arrived;
  const closed = close();
  await expect(answer).resolves.toEqual({ status: 200, connection: 'keep-alive' });
  await closed; // would hang past the test's timeout without the idle sweep
  agent.destroy();
});

it('tells a client that keeps its connection busy to close it', async () => {
  // The server starts closing while it holds the client's 20th request; the client sends its
  // next one the moment it has an answer, so the connection is never idle.
  let served = 0;
  let closing: Promise<void> | undefined;
  const server = http.createServer((_req, res) => {
    if (++served === 20) closing = close();
    setTimeout(() => res.end('ok'), 10);
  });
  server.keepAliveTimeout = 120_000;
  const close = closerFor(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: (string | undefined)[] = [];
  for (;;) {
    const answer = await get(port, agent).catch(() => undefined);
    if (!answer) break; // refused: the server has closed
    answers.push(answer.connection);
  }
  await closing;
  agent.destroy();
  expect(answers).toEqual([...Array<string>(20).fill('keep-alive'), 'close']);
});
