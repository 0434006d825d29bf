import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createDb, recordInboxEvents, releaseConversation, seedCatalog, type Db } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import { createQueue, createRedis, inboxQueue, maintenanceQueue, Producer } from '@zapflow/queue-contracts';
import {
  createTestDatabase,
  deleteKeys,
  GraphStandIn,
  HttpReceiver,
  OpenAIStandIn,
  SmtpStandIn,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  type TestDatabase,
} from '@zapflow/testkit';
import { extractEvents, webhookFixtures as fx } from '@zapflow/whatsapp';
import { loadWorkerConfig } from './config';
import { createWorkerApp, type WorkerApp } from './worker-app';

// The conversation behaviour of the worker, wired exactly as in production (createWorkerApp)
// and run in-process against the real Redis and PostgreSQL, with stand-ins on 127.0.0.1 for the
// Graph API, OpenAI, the CRM and the SMTP server.

// Generous windows: on a loaded 2-core machine a webhook call can take a few hundred ms.
const DEBOUNCE_MS = 600;
const MAX_WAIT_MS = 1800;
const TEAM_NUMBER = '5511900000099';
const prefix = uniquePrefix('conv');
const logger = createLogger({ service: 'conversation-test', level: 'error', silent: true });
let database: TestDatabase;
let db: Db;
let redis: Redis;
let producerRedis: Redis;
let inboxQ: Queue;
let graph: GraphStandIn;
let crm: HttpReceiver;
let smtp: SmtpStandIn;
let openai: OpenAIStandIn;
let app: WorkerApp;
let failingApp: WorkerApp | undefined;

function env(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    WHATSAPP_PROVIDER: 'cloud',
    WHATSAPP_APP_SECRET: 'secret',
    WHATSAPP_ACCESS_TOKEN: 'token',
    WHATSAPP_API_BASE_URL: graph.url,
    DEBOUNCE_MS: String(DEBOUNCE_MS),
    DEBOUNCE_MAX_WAIT_MS: String(MAX_WAIT_MS),
    SEND_RETRY_DELAYS_MS: '50,100',
    WORKER_LOCK_MS: '3000',
    HANDOFF_CRM_URL: `${crm.url}/tickets`,
    HANDOFF_CRM_SECRET: 'crm-secret',
    SMTP_URL: smtp.url,
    HANDOFF_EMAIL_TO: 'team@dealer.test',
    HANDOFF_WHATSAPP_TO: TEAM_NUMBER,
    ...overrides,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  await seedCatalog(db);
  redis = new Redis(TEST_REDIS_URL);
  producerRedis = createRedis(TEST_REDIS_URL, 'producer');
  inboxQ = createQueue(inboxQueue, producerRedis, prefix);
  graph = await new GraphStandIn('token').start();
  crm = await new HttpReceiver().start();
  smtp = await new SmtpStandIn().start();
  openai = await new OpenAIStandIn().start();
  app = await createWorkerApp(loadWorkerConfig(env()), logger);
});
afterAll(async () => {
  await app?.close();
  await failingApp?.close();
  await inboxQ.close();
  producerRedis.disconnect();
  redis.disconnect();
  await Promise.all([graph.stop(), crm.stop(), smtp.stop(), openai.stop()]);
  await db.$disconnect();
  await database.drop();
  await deleteKeys(prefix);
});

let contactSeq = 0;
const newContact = () => `55319${String(++contactSeq).padStart(8, '0')}`;

/** What the webhook does for one message: record it in the inbox and queue it. */
async function receive(
  from: string,
  body: string,
  { queue = inboxQ, fromMe = false }: { queue?: Queue; fromMe?: boolean } = {},
) {
  const payload = fx.messagesNotification({ profileName: 'Ana Lima', messages: [fx.textMessage({ from, body })] });
  const [message] = extractEvents(payload).messages;
  const rows = await recordInboxEvents(db, [
    {
      provider: 'cloud',
      kind: 'message',
      channelKey: message!.phoneNumberId,
      dedupeKey: message!.wamid,
      sender: message!.waId,
      payload: { ...message, fromMe },
    },
  ]);
  await new Producer(inboxQueue, queue).addBulk(rows.map((r) => ({ inboxEventId: r.id, kind: r.kind })));
  return message!;
}

async function turnsOf(waId: string) {
  return db.turn.findMany({
    where: { conversation: { contact: { waId } } },
    orderBy: { seq: 'asc' },
    // The order turns read their inputs in: WhatsApp time, then arrival at the webhook.
    include: {
      messages: {
        orderBy: [{ waTimestamp: 'asc' }, { arrivedAt: 'asc' }, { arrivalSeq: 'asc' }, { replyIndex: 'asc' }],
      },
    },
  });
}

async function conversationOf(waId: string) {
  return db.conversation.findFirstOrThrow({ where: { contact: { waId } }, include: { contact: true } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('debounce: a burst is one turn', () => {
  it('answers three quick messages with one turn whose input is all three, in order', async () => {
    const c = newContact();
    for (const text of ['oi', 'tudo bem?', 'queria ver um SUV']) {
      await receive(c, text);
      await sleep(80);
    }
    await waitFor('the reply', () => graph.textsTo(c).length >= 1);
    await sleep(DEBOUNCE_MS * 2);
    const turns = await turnsOf(c);
    expect(turns).toHaveLength(1);
    expect(turns[0]!.messages.filter((m) => m.direction === 'inbound').map((m) => m.body)).toEqual([
      'oi',
      'tudo bem?',
      'queria ver um SUV',
    ]);
    expect(graph.textsTo(c)).toHaveLength(turns[0]!.messages.filter((m) => m.direction === 'outbound').length);
    // What the engine is to remember is stored on the conversation for the next turn.
    const conversation = await conversationOf(c);
    expect(conversation.context).toMatchObject({ language: 'pt', stage: expect.any(String) });
    // The SUVs it was shown are remembered, on the conversation and as the contact's interests.
    const interests = (conversation.context as { interests?: string[] }).interests ?? [];
    expect(interests.length).toBeGreaterThan(0);
    expect(await db.contactInterest.count({ where: { contactId: conversation.contactId } })).toBe(interests.length);
  });

  it('answers two messages of one webhook delivery as one turn, in their order', async () => {
    const c = newContact();
    const payload = fx.messagesNotification({
      messages: ['oi', 'tudo bem?', 'tem SUV?'].map((body) => fx.textMessage({ from: c, body })),
    });
    const events = extractEvents(payload).messages.map((m) => ({
      provider: 'cloud',
      kind: 'message' as const,
      channelKey: m.phoneNumberId,
      dedupeKey: m.wamid,
      sender: m.waId,
      payload: m,
    }));
    const rows = await recordInboxEvents(db, events);
    await new Producer(inboxQueue, inboxQ).addBulk(rows.map((r) => ({ inboxEventId: r.id, kind: r.kind })));
    await waitFor('the turn', async () => (await turnsOf(c)).length === 1);
    await sleep(DEBOUNCE_MS);
    const [turn] = await turnsOf(c);
    expect(turn!.messages.filter((m) => m.direction === 'inbound').map((m) => m.body)).toEqual([
      'oi',
      'tudo bem?',
      'tem SUV?',
    ]);
    expect(await turnsOf(c)).toHaveLength(1);
  });

  it('answers two bursts further apart than the window with two turns', async () => {
    const c = newContact();
    await receive(c, 'oi');
    await waitFor('the first turn', async () => (await turnsOf(c)).length === 1);
    await sleep(DEBOUNCE_MS + 100);
    await receive(c, 'quanto custa?');
    await waitFor('the second turn', async () => (await turnsOf(c)).length === 2);
    expect((await turnsOf(c)).map((t) => t.seq)).toEqual([1, 2]);
  });

  it('answers a contact who keeps typing within the maximum wait', async () => {
    const c = newContact();
    const started = Date.now();
    // A message every 150 ms for 3 s: the window never closes, the maximum wait must.
    const typing = (async () => {
      for (let i = 0; i < 20; i++) {
        await receive(c, `mensagem ${i}`);
        await sleep(150);
      }
    })();
    const firstTurn = await waitFor('the first turn', async () => (await turnsOf(c))[0], { timeoutMs: 10_000 });
    await typing;
    const firstInput = await db.message.findFirstOrThrow({
      where: { conversation: { contact: { waId: c } }, direction: 'inbound' },
      orderBy: { arrivedAt: 'asc' },
    });
    // Committed after at most the maximum wait (plus the time a turn takes here).
    expect(firstTurn.completedAt!.getTime() - firstInput.arrivedAt!.getTime()).toBeLessThan(MAX_WAIT_MS + 1000);
    expect(firstTurn.completedAt!.getTime() - started).toBeLessThan(3000);
    await waitFor(
      'every message answered',
      async () =>
        (await db.message.count({
          where: { conversation: { contact: { waId: c } }, direction: 'inbound', turnId: null },
        })) === 0,
    );
    const turns = await turnsOf(c);
    expect(turns.length).toBeGreaterThanOrEqual(2);
    const inputs = turns.flatMap((t) => t.messages.filter((m) => m.direction === 'inbound').map((m) => m.body));
    expect(inputs).toEqual(Array.from({ length: 20 }, (_, i) => `mensagem ${i}`));
  });
});

describe("the business's own messages", () => {
  it('stores a message the business sent from its phone and does not answer it', async () => {
    const c = newContact();
    const message = await receive(c, 'Olá, aqui é o João da loja', { fromMe: true });
    await waitFor(
      'the message stored',
      async () => (await db.message.count({ where: { providerMessageId: message!.wamid } })) === 1,
    );
    await sleep(DEBOUNCE_MS * 2);
    expect(await db.message.findFirstOrThrow({ where: { providerMessageId: message!.wamid } })).toMatchObject({
      direction: 'outbound',
      status: 'sent',
    });
    expect(await turnsOf(c)).toHaveLength(0);
    expect(graph.textsTo(c)).toHaveLength(0);
  });
});

describe('opt-out and opt-in', () => {
  it('confirms an opt-out once, marks the contact, and welcomes them back on "voltar"', async () => {
    const c = newContact();
    await receive(c, 'Parar');
    await waitFor('the confirmation', () => graph.textsTo(c).length === 1);
    expect(graph.textsTo(c)[0]).toMatch(/não vai mais receber/);
    expect((await conversationOf(c)).contact.optedOutAt).not.toBeNull();
    await sleep(DEBOUNCE_MS + 100);
    await receive(c, 'voltar');
    await waitFor('the welcome back', () => graph.textsTo(c).length === 2);
    expect(graph.textsTo(c)[1]).toMatch(/de volta/);
    expect((await conversationOf(c)).contact.optedOutAt).toBeNull();
  });

  it('understands STOP in English', async () => {
    const c = newContact();
    await receive(c, 'STOP');
    await waitFor('the confirmation', () => graph.textsTo(c).length === 1);
    expect(graph.textsTo(c)[0]).toMatch(/won't receive/);
  });
});

describe('handoff to a person', () => {
  it('hands over when the contact asks, notifies on every channel, and stays silent until released', async () => {
    const c = newContact();
    await receive(c, 'quero falar com um atendente');
    await waitFor('the handoff', async () => (await conversationOf(c)).state === 'human');
    await waitFor(
      'the e-mail, the CRM ticket and the WhatsApp message',
      () =>
        smtp.mails.some((m) => m.raw.includes(c)) &&
        crm.received.some((r) => r.body.includes(c)) &&
        graph.accepted.some((a) => a.body.to === TEAM_NUMBER && JSON.stringify(a.body).includes(c)),
    );
    const ticket = crm.received.find((r) => r.body.includes(c))!;
    expect(ticket.path).toBe('/tickets');
    expect(ticket.headers['x-zapflow-signature-256']).toBe(
      `sha256=${createHmac('sha256', 'crm-secret').update(ticket.body).digest('hex')}`,
    );
    expect(JSON.parse(ticket.body)).toMatchObject({
      event: 'conversation.handoff',
      reason: 'contact_asked',
      contact: { waId: c },
    });
    const repliesBefore = graph.textsTo(c).length;

    await sleep(DEBOUNCE_MS + 100);
    await receive(c, 'alô? tem alguém aí?');
    await waitFor(
      'the message to be stored for the person',
      async () =>
        (await db.message.count({ where: { conversation: { contact: { waId: c } }, status: 'human' } })) === 1,
    );
    await sleep(DEBOUNCE_MS * 2);
    expect(graph.textsTo(c)).toHaveLength(repliesBefore);

    const conversation = await conversationOf(c);
    expect(await releaseConversation(db, conversation.id, 'operator')).toBe(true);
    await receive(c, 'oi de novo');
    await waitFor('the bot to answer again', () => graph.textsTo(c).length > repliesBefore);
  });

  it('retries each notification channel on its own', async () => {
    const c = newContact();
    crm.failNext(2, 503);
    const mailsBefore = smtp.mails.length;
    await receive(c, 'preciso falar com um vendedor');
    await waitFor(
      'the CRM ticket after two failures',
      () => crm.received.filter((r) => r.body.includes(c)).length === 3,
      {
        timeoutMs: 30_000,
      },
    );
    const handoff = await db.handoff.findFirstOrThrow({
      where: { conversation: { contact: { waId: c } } },
      include: { notifications: true },
    });
    await waitFor(
      'every notification sent',
      async () => (await db.handoffNotification.count({ where: { handoffId: handoff.id, status: 'sent' } })) === 3,
    );
    const crmRow = await db.handoffNotification.findFirstOrThrow({ where: { handoffId: handoff.id, channel: 'crm' } });
    expect(crmRow.attempts).toBe(3);
    expect(smtp.mails.length - mailsBefore).toBe(1);
  });
});

describe('with the OpenAI engine', () => {
  const openaiPrefix = `${prefix}-openai`;
  let openaiInbox: Queue;

  beforeAll(async () => {
    failingApp = await createWorkerApp(
      loadWorkerConfig(
        env({
          QUEUE_PREFIX: openaiPrefix,
          OPENAI_API_KEY: 'sk-test-standin-key',
          OPENAI_BASE_URL: openai.url,
          OPENAI_MAX_RETRIES: '0',
          HANDOFF_AFTER_FAILED_TURNS: '2',
        }),
      ),
      logger,
    );
    openaiInbox = createQueue(inboxQueue, producerRedis, openaiPrefix);
  });
  afterAll(async () => {
    // Closed before its keys go: a running worker writes its queues' keys again.
    await failingApp?.close();
    failingApp = undefined;
    await openaiInbox.close();
    await deleteKeys(openaiPrefix);
  });

  const send = (from: string, text: string) => receive(from, text, { queue: openaiInbox });

  it('answers a message that arrives during a slow turn with the next turn', async () => {
    const c = newContact();
    openai.next(
      { kind: 'text', content: 'Resposta para a primeira.', delayMs: 1500 },
      { kind: 'text', content: 'Resposta para a segunda.' },
    );
    const requestsBefore = openai.requests.length;
    await send(c, 'primeira');
    await waitFor('the turn to be asking the model', () => openai.requests.length > requestsBefore);
    await send(c, 'segunda');
    await waitFor('both replies', () => graph.textsTo(c).length === 2, { timeoutMs: 15_000 });
    expect(graph.textsTo(c)).toEqual(['Resposta para a primeira.', 'Resposta para a segunda.']);
    const turns = await turnsOf(c);
    expect(turns.map((t) => t.messages.filter((m) => m.direction === 'inbound').map((m) => m.body))).toEqual([
      ['primeira'],
      ['segunda'],
    ]);
    expect(turns[1]!.startedAt.getTime()).toBeGreaterThanOrEqual(turns[0]!.completedAt!.getTime());
    // Each turn keeps what it cost and how long it took.
    expect(turns[0]).toMatchObject({ engine: 'openai', status: 'done', tokensIn: expect.any(Number) });
    expect(turns[0]!.tokensIn).toBeGreaterThan(0);
    expect(turns[0]!.latencyMs).toBeGreaterThanOrEqual(1400);
  });

  it('apologises each time, records the failure, and hands over after the configured number of failures', async () => {
    const c = newContact();
    openai.next({ kind: 'fail', status: 500 }, { kind: 'fail', status: 500 });
    await send(c, 'oi');
    await waitFor('the apology', () => graph.textsTo(c).length === 1);
    expect(graph.textsTo(c)[0]).toMatch(/Desculpe/);
    expect((await conversationOf(c)).failedTurns).toBe(1);
    await sleep(DEBOUNCE_MS + 100);
    await send(c, 'oi?');
    await waitFor('the handoff', async () => (await conversationOf(c)).state === 'human');
    const turns = await turnsOf(c);
    expect(turns.map((t) => t.status)).toEqual(['failed', 'failed']);
    expect(turns[0]!.error).toMatch(/500/);
    expect((await db.handoff.findFirstOrThrow({ where: { conversationId: turns[0]!.conversationId } })).reason).toBe(
      'failed_turns',
    );
  });
});

describe('idle handoffs', () => {
  it('gives a conversation back to the bot after HANDOFF_IDLE_RELEASE_MS without messages', async () => {
    const c = newContact();
    await receive(c, 'quero falar com um atendente');
    await waitFor('the handoff', async () => (await conversationOf(c)).state === 'human');
    const conversation = await conversationOf(c);
    await db.conversation.update({
      where: { id: conversation.id },
      data: { lastActivityAt: new Date(Date.now() - 120_000) },
    });
    const maintenance = createQueue(maintenanceQueue, producerRedis, prefix);
    try {
      await maintenance.add('maintenance', { task: 'release-idle-handoffs', idleMs: 60_000 });
      await waitFor('the release', async () => (await conversationOf(c)).state === 'bot');
    } finally {
      await maintenance.close();
    }
    expect(await db.handoff.findFirstOrThrow({ where: { conversationId: conversation.id } })).toMatchObject({
      releasedBy: 'idle',
    });
  });
});

describe('turn fencing', () => {
  it('answers after Redis lost the fence counter, with a token above the one PostgreSQL kept', async () => {
    const c = newContact();
    await receive(c, 'oi');
    await waitFor('the first turn', async () => (await turnsOf(c)).length === 1);
    const { id } = await conversationOf(c);
    // As after a Redis flush: the counter is gone, and the store has seen a high token (too high
    // to reach by retrying turns that PostgreSQL refuses, each one token further).
    await db.$executeRaw`UPDATE conversations SET turn_fence = 1000000000000 WHERE id = ${id}::uuid`;
    await redis.del(`${prefix}:fence:{conv-${id}}`);
    await sleep(DEBOUNCE_MS + 100);
    await receive(c, 'quanto custa?');
    await waitFor('the second turn', async () => (await turnsOf(c)).length === 2);
    expect(Number((await conversationOf(c)).turnFence)).toBeGreaterThan(1e12);
    await waitFor('the second reply', () => graph.textsTo(c).length >= 2);
  });
});
