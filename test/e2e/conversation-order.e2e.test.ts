import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
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

// Order under load: 4 worker processes, 20 contacts, 400 messages in random interleaving,
// through the real webhook. Every contact's messages answered in order, never two turns of one
// conversation at once (from the stored turn times), none lost, none doubled.

const WORKERS = 4;
const CONTACTS = 20;
const PER_CONTACT = 20;
const DEBOUNCE_MS = 250;
const secret = 'order-secret';
const prefix = uniquePrefix('order');
let database: TestDatabase;
let db: Db;
let graph: GraphStandIn;
let processes: AppProcess[] = [];
let base: string;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  graph = await new GraphStandIn('token').start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: 'development',
    LOG_FORMAT: 'json',
    LOG_LEVEL: process.env.ORDER_LOG_LEVEL ?? 'warn',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_METRICS_PORT: '0',
    SCHEDULER_METRICS_PORT: '0',
    WORKER_CONCURRENCY: '20',
    WHATSAPP_PROVIDER: 'cloud',
    WHATSAPP_APP_SECRET: secret,
    WHATSAPP_ACCESS_TOKEN: 'token',
    WHATSAPP_API_BASE_URL: graph.url,
    ADMIN_PASSWORD: 'x',
    DEBOUNCE_MS: String(DEBOUNCE_MS),
    WORKER_LOCK_MS: '5000',
  };
  processes = [
    new AppProcess('webhook-api', env),
    new AppProcess('scheduler', env),
    ...Array.from({ length: WORKERS }, () => new AppProcess('worker', env)),
  ].map((p) => p.start());
  await waitForHttp(`${base}/ready`);
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGTERM')));
  await graph?.stop();
  await db?.$disconnect();
  await database?.drop();
  await deleteKeys(prefix);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('conversation order with 4 worker processes', () => {
  it('answers 400 interleaved messages of 20 contacts in order, one turn at a time, none lost or doubled', async () => {
    const contacts = Array.from({ length: CONTACTS }, (_, i) => `55419${String(i).padStart(8, '0')}`);
    const started = Date.now();
    // Each contact types its messages one after another with random pauses; all at once.
    await Promise.all(
      contacts.map(async (from, c) => {
        for (let i = 0; i < PER_CONTACT; i++) {
          const body = JSON.stringify(
            fx.messagesNotification({
              messages: [fx.textMessage({ from, body: `c${c} m${String(i).padStart(2, '0')}` })],
            }),
          );
          const res = await fetch(`${base}/webhook/whatsapp`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signBody(body, secret) },
            body,
          });
          expect(res.status).toBe(200);
          await sleep(Math.random() * 2.5 * DEBOUNCE_MS);
        }
      }),
    );
    const sentAt = Date.now();
    await waitFor(
      'every message answered and every reply sent',
      async () => {
        const [unanswered, unsent] = await Promise.all([
          db.message.count({ where: { direction: 'inbound', turnId: null } }),
          db.message.count({ where: { direction: 'outbound', status: { in: ['queued', 'sending'] } } }),
        ]);
        const inbound = await db.message.count({ where: { direction: 'inbound' } });
        return inbound === CONTACTS * PER_CONTACT && unanswered === 0 && unsent === 0;
      },
      { timeoutMs: 150_000, intervalMs: 200 },
    );
    const doneAt = Date.now();

    let turnsTotal = 0;
    for (const [c, waId] of contacts.entries()) {
      const turns = await db.turn.findMany({
        where: { conversation: { contact: { waId } } },
        orderBy: { seq: 'asc' },
        include: {
          messages: {
            orderBy: [{ waTimestamp: 'asc' }, { arrivedAt: 'asc' }, { arrivalSeq: 'asc' }, { replyIndex: 'asc' }],
          },
        },
      });
      turnsTotal += turns.length;
      // Never two turns at once: each starts after the previous one committed.
      for (let i = 1; i < turns.length; i++) {
        expect(turns[i]!.startedAt.getTime()).toBeGreaterThanOrEqual(turns[i - 1]!.completedAt!.getTime());
      }
      // Inputs in the order they were sent, each exactly once.
      const inputs = turns.flatMap((t) => t.messages.filter((m) => m.direction === 'inbound').map((m) => m.body));
      expect(inputs).toEqual(Array.from({ length: PER_CONTACT }, (_, i) => `c${c} m${String(i).padStart(2, '0')}`));
      // Replies reached the provider once each, in turn order.
      const outbound = turns.flatMap((t) => t.messages.filter((m) => m.direction === 'outbound'));
      const accepted = graph.accepted.filter((a) => a.body.to === waId).map((a) => a.wamid);
      expect(accepted).toEqual(outbound.map((m) => m.providerMessageId));
    }
    expect(new Set(graph.accepted.map((a) => a.wamid)).size).toBe(graph.accepted.length);

    const summary = {
      workers: WORKERS,
      contacts: CONTACTS,
      messages: CONTACTS * PER_CONTACT,
      turns: turnsTotal,
      replies: graph.accepted.length,
      sendingMs: sentAt - started,
      settledAfterLastMessageMs: doneAt - sentAt,
    };
    const out = path.join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'ordering-test.last.json'), JSON.stringify(summary, null, 2));
    // ORDER_LOG_LEVEL=debug ORDER_LOG_FILE=/tmp/workers.log keeps the workers' logs for study.
    if (process.env.ORDER_LOG_FILE) {
      writeFileSync(
        process.env.ORDER_LOG_FILE,
        processes
          .slice(2)
          .map((p) => p.output)
          .join('\n'),
      );
    }
    // Six processes on two cores beside another test file: this can take a minute or two.
  }, 240_000);
});
