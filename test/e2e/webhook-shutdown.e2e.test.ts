import { afterAll, beforeAll, expect, it } from '@jest/globals';
import http from 'node:http';
import { createDb, type Db } from '@zapflow/db';
import {
  AppProcess,
  createTestDatabase,
  deleteKeys,
  freePort,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  waitForHttp,
  type TestDatabase,
} from '@zapflow/testkit';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';

// Meta delivers over keep-alive connections and never pauses on a busy number. A SIGTERM must
// still stop webhook-api within the orchestrator's grace period, and everything it answered 200
// must be in the inbox: a connection that stays busy must not hold the shutdown open.

const secret = 'shutdown-secret';
const prefix = uniquePrefix('shutdown');
let database: TestDatabase;
let db: Db;
let api: AppProcess;
let port: number;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  port = await freePort();
  api = new AppProcess('webhook-api', {
    NODE_ENV: 'development',
    LOG_FORMAT: 'json',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WHATSAPP_PROVIDER: 'cloud',
    WHATSAPP_APP_SECRET: secret,
    WHATSAPP_ACCESS_TOKEN: 'token',
    ADMIN_PASSWORD: 'x',
  }).start();
  await waitForHttp(`http://127.0.0.1:${port}/ready`);
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  await db?.$disconnect();
  await database?.drop();
  await deleteKeys(prefix);
});

/** One signed delivery over `agent`'s connection: its status, or 0 if the connection failed. */
function deliver(agent: http.Agent, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/webhook/whatsapp',
        method: 'POST',
        agent,
        timeout: 10_000,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'X-Hub-Signature-256': signBody(body, secret),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

it('stops on SIGTERM under keep-alive traffic, keeping every delivery it acknowledged', async () => {
  const acknowledged: string[] = [];
  let sending = true;
  // Eight senders, each on one keep-alive connection, each sending the moment it has an answer.
  const senders = Array.from({ length: 8 }, async (_, s) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; sending; i++) {
      const wamid = `wamid.shutdown.${s}.${i}`;
      const body = JSON.stringify(
        fx.messagesNotification({ messages: [fx.textMessage({ wamid, from: `5571${s}0000000`, body: `m${i}` })] }),
      );
      const status = await deliver(agent, body);
      if (status === 200) acknowledged.push(wamid);
      else await new Promise((r) => setTimeout(r, 20)); // refused: the server is going; Meta retries later
    }
    agent.destroy();
  });
  await waitFor('traffic flowing on every connection', () => acknowledged.length >= 200);

  // Under the compose file's 15 s grace period; AppProcess sends SIGKILL (exit code null) after it.
  const code = await api.stop('SIGTERM', 12_000);
  sending = false;
  await Promise.all(senders);

  expect(code).toBe(0);
  const stored = await db.inboxEvent.findMany({ where: { kind: 'message' }, select: { dedupeKey: true } });
  const inInbox = new Set(stored.map((e) => e.dedupeKey));
  expect(acknowledged.filter((wamid) => !inInbox.has(wamid))).toEqual([]);
}, 60_000);
