import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createDb, type Db } from '@zapflow/db';
import {
  AppProcess,
  createTestDatabase,
  deleteKeys,
  freePort,
  GraphStandIn,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  waitForHttp,
  type TestDatabase,
} from '@zapflow/testkit';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';

// The whole path with the three deployables as real processes, configured only by the
// environment: signed webhooks in, replies observed at a stand-in Graph API.

const secret = 'e2e-app-secret';
const token = 'e2e-access-token';
const prefix = uniquePrefix('e2e');
let database: TestDatabase;
let db: Db;
let redis: Redis;
let graph: GraphStandIn;
let api: AppProcess;
let worker: AppProcess;
let scheduler: AppProcess;
let base: string;

beforeAll(async () => {
  for (const app of ['webhook-api', 'worker', 'scheduler']) {
    if (!existsSync(path.join(__dirname, '..', '..', 'apps', app, 'dist', 'main.js'))) {
      throw new Error(`apps/${app} is not built: run \`npm run build\` (npm test does it for you)`);
    }
  }
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = new Redis(TEST_REDIS_URL);
  graph = await new GraphStandIn(token).start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: 'development',
    LOG_FORMAT: 'json',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_METRICS_PORT: '0',
    SCHEDULER_METRICS_PORT: '0',
    WHATSAPP_PROVIDER: 'cloud',
    WHATSAPP_APP_SECRET: secret,
    WHATSAPP_ACCESS_TOKEN: token,
    WHATSAPP_API_BASE_URL: graph.url,
    ADMIN_PASSWORD: 'e2e',
    // Short enough that a killed worker's job and the sweeper come round within a test.
    WORKER_LOCK_MS: '2000',
    INBOX_SWEEP_AFTER_MS: '2000',
    INBOX_SWEEP_EVERY_MS: '500',
    SEND_RETRY_DELAYS_MS: '200,400,800',
    // A send left mid-request is retried once its lease (timeout + 5 s) has run out.
    WHATSAPP_TIMEOUT_MS: '3000',
  };
  api = new AppProcess('webhook-api', env).start();
  worker = new AppProcess('worker', env).start();
  scheduler = new AppProcess('scheduler', env).start();
  await waitForHttp(`${base}/ready`);
});

afterAll(async () => {
  const codes = await Promise.all([api, worker, scheduler].filter(Boolean).map((p) => p.stop('SIGTERM')));
  await graph?.stop();
  redis?.disconnect();
  await db?.$disconnect();
  await database?.drop();
  await deleteKeys(prefix);
  // Graceful shutdown on SIGTERM is part of the contract: every process must exit 0.
  expect(codes).toEqual([0, 0, 0]);
});

let contactSeq = 0;
const newContact = () => `55219${String(++contactSeq).padStart(8, '0')}`;

async function deliver(payload: unknown, signature?: string): Promise<number> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${base}/webhook/whatsapp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature ?? signBody(body, secret) },
    body,
  });
  return res.status;
}

/** Waits until nothing is left to do: every inbox event processed, every reply sent, queues idle. */
async function settled(): Promise<void> {
  const queues = ['inbox', 'send'].map((name) => new Queue(name, { connection: redis, prefix }));
  try {
    await waitFor(
      'the system to settle',
      async () => {
        const [open, unsent, ...counts] = await Promise.all([
          db.inboxEvent.count({ where: { processedAt: null, kind: 'message' } }),
          db.message.count({ where: { direction: 'outbound', status: { in: ['queued', 'sending'] } } }),
          ...queues.map((q) => q.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized')),
        ]);
        return open === 0 && unsent === 0 && counts.every((c) => c === 0);
      },
      { timeoutMs: 30_000 },
    );
    // Let the sweeper run over the settled state twice: it must find nothing to redo.
    const maintenance = new Queue('maintenance', { connection: redis, prefix });
    const before = await maintenance.getCompletedCount();
    await waitFor('two sweeps', async () => (await maintenance.getCompletedCount()) >= before + 2, {
      timeoutMs: 10_000,
    });
    await maintenance.close();
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

const text = (from: string, body: string, wamid?: string) =>
  fx.messagesNotification({
    profileName: 'Carla Souza',
    messages: [fx.textMessage({ from, body, ...(wamid && { wamid }) })],
  });

describe('webhook to reply, three processes', () => {
  it('answers each message with one reply from the number that received it', async () => {
    const contacts = [newContact(), newContact(), newContact()];
    const wamids = contacts.map(() => fx.fakeWamid());
    for (const [i, c] of contacts.entries()) expect(await deliver(text(c, 'oi, bom dia', wamids[i]))).toBe(200);
    await waitFor('three replies', () => contacts.every((c) => graph.textsTo(c).length >= 1));
    await settled();
    // Blue ticks and "typing…" on each message while the bot worked on it.
    for (const wamid of wamids) {
      expect(graph.requests.map((r) => r.body)).toContainEqual({
        messaging_product: 'whatsapp',
        status: 'read',
        message_id: wamid,
        typing_indicator: { type: 'text' },
      });
    }
    for (const c of contacts) {
      const replies = graph.textsTo(c);
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatch(/^Bom dia, Carla!/);
      expect(graph.accepted.find((a) => a.body.to === c)?.phoneNumberId).toBe(fx.DEFAULT_PHONE_NUMBER_ID);
    }
  });

  it('answers the same delivery sent three times once', async () => {
    const c = newContact();
    const payload = text(c, 'hello');
    for (let i = 0; i < 3; i++) expect(await deliver(payload)).toBe(200);
    await waitFor('the reply', () => graph.textsTo(c).length >= 1);
    await settled();
    expect(graph.textsTo(c)).toHaveLength(1);
  });

  it('refuses a bad signature with 401 and never answers it', async () => {
    const c = newContact();
    const payload = text(c, 'forged');
    expect(await deliver(payload, signBody(JSON.stringify(payload), 'not-the-secret'))).toBe(401);
    expect(await deliver(payload, 'sha256=deadbeef')).toBe(401);
    await settled();
    expect(graph.textsTo(c)).toHaveLength(0);
    expect(await db.inboxEvent.count({ where: { payload: { path: ['waId'], equals: c } } })).toBe(0);
  });

  it('does not answer status notifications, and applies them to the reply', async () => {
    const c = newContact();
    expect(await deliver(text(c, 'oi'))).toBe(200);
    await waitFor('the reply', () => graph.accepted.find((a) => a.body.to === c));
    const wamid = graph.accepted.find((a) => a.body.to === c)!.wamid;
    const sentBefore = graph.accepted.length;
    for (const status of ['sent', 'delivered', 'read']) {
      expect(await deliver(fx.statusNotification({ wamid, status, recipientId: c }))).toBe(200);
    }
    await waitFor(
      'the status to reach the reply',
      async () => (await db.message.findFirst({ where: { providerMessageId: wamid } }))?.status === 'read',
    );
    await settled();
    expect(graph.accepted.length).toBe(sentBefore);
  });

  it('still answers once when the worker is killed with SIGKILL mid-send and restarted', async () => {
    const c = newContact();
    // The reply, not the read receipt that goes out first (it names no recipient).
    graph.nextFor(c, { kind: 'hold' });
    expect(await deliver(text(c, 'tudo bem?'))).toBe(200);
    await graph.whenHolding();
    await worker.stop('SIGKILL');
    expect(graph.textsTo(c)).toHaveLength(0);
    worker.start();
    await waitFor('the reply after the restart', () => graph.textsTo(c).length >= 1, { timeoutMs: 30_000 });
    await settled();
    expect(graph.textsTo(c)).toHaveLength(1);
    const reply = await db.message.findFirstOrThrow({
      where: { direction: 'outbound', conversation: { contact: { waId: c } } },
    });
    expect(reply.sendAttempts).toBe(2);
  });

  it('answers a message whose queued job was lost with Redis, through the sweeper', async () => {
    await worker.stop('SIGTERM');
    const c = newContact();
    expect(await deliver(text(c, 'alguém aí?'))).toBe(200);
    // Redis loses the queue (a flush, a failover without persistence): only PostgreSQL remembers.
    const inbox = new Queue('inbox', { connection: redis, prefix });
    await inbox.obliterate({ force: true });
    await inbox.close();
    worker.start();
    await waitFor('the sweeper to recover the reply', () => graph.textsTo(c).length >= 1, { timeoutMs: 30_000 });
    await settled();
    expect(graph.textsTo(c)).toHaveLength(1);
  });
});
