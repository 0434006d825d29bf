import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDb, storeInboundMessage, writeOutbox, type Db } from '@zapflow/db';
import { RateLimiter } from '@zapflow/idempotency';
import { createLogger } from '@zapflow/logger';
import { createQueue, createRedis, Producer, sendQueue } from '@zapflow/queue-contracts';
import {
  createTestDatabase,
  deleteKeys,
  GraphStandIn,
  HttpReceiver,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  type TestDatabase,
} from '@zapflow/testkit';
import { outboundRows, webhookFixtures as fx, type OutgoingContent, type TemplateContent } from '@zapflow/whatsapp';
import { loadWorkerConfig } from './config';
import { createWorkerApp, type WorkerApp } from './worker-app';

// The sender as production wires it (createWorkerApp), against a Graph API stand-in that fails
// on purpose per recipient, an Evolution API stand-in as the alternate provider, and a CRM
// stand-in that hears the operators' alerts. Every case ends delivered once or in the manual
// queue with its reason.

const TIMEOUT_MS = 800;
const prefix = uniquePrefix('sending');
const logger = createLogger({ service: 'sending-test', level: 'error', silent: true });
let database: TestDatabase;
let db: Db;
let redis: Redis;
let sendQ: Queue;
let send: Producer<typeof sendQueue.schema>;
let graph: GraphStandIn;
let evolution: HttpReceiver;
let crm: HttpReceiver;
let app: WorkerApp;
/** Recipients the Evolution stand-in refuses (500). */
const evolutionRefuses = new Set<string>();

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = createRedis(TEST_REDIS_URL, 'producer');
  sendQ = createQueue(sendQueue, redis, prefix);
  send = new Producer(sendQueue, sendQ, { attempts: 3 });
  graph = await new GraphStandIn('token').start();
  evolution = await new HttpReceiver().start();
  let evolutionIds = 0;
  evolution.respond = (request) => {
    const to = (JSON.parse(request.body) as { number?: string }).number ?? '';
    if (evolutionRefuses.has(to)) return { status: 500, body: { error: 'instance disconnected' } };
    return { status: 201, body: { key: { id: `EVO${++evolutionIds}` }, status: 'PENDING' } };
  };
  crm = await new HttpReceiver().start();
  app = await createWorkerApp(
    loadWorkerConfig({
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      WHATSAPP_PROVIDER: 'cloud',
      WHATSAPP_APP_SECRET: 'secret',
      WHATSAPP_ACCESS_TOKEN: 'token',
      WHATSAPP_API_BASE_URL: graph.url,
      WHATSAPP_TIMEOUT_MS: String(TIMEOUT_MS),
      SEND_RETRY_DELAYS_MS: '100,200',
      SEND_RATE_PER_RECIPIENT_INTERVAL_MS: '10',
      WHATSAPP_FALLBACK_PROVIDER: 'evolution',
      EVOLUTION_API_URL: evolution.url,
      EVOLUTION_API_KEY: 'evo-key',
      EVOLUTION_INSTANCE: 'backup',
      EVOLUTION_RATE_PER_MINUTE: '6000',
      HANDOFF_CRM_URL: `${crm.url}/alerts`,
      WORKER_METRICS_PORT: '0',
    }),
    logger,
  );
});
afterAll(async () => {
  await app?.close();
  await sendQ.close();
  redis.disconnect();
  await Promise.all([graph.stop(), evolution.stop(), crm.stop()]);
  await db.$disconnect();
  await database.drop();
  await deleteKeys(prefix);
});

let contactSeq = 0;
/** A contact who wrote to the business just now (inside the 24-hour window) unless `wroteAt` says otherwise. */
async function contact({ wroteAt = new Date() }: { wroteAt?: Date } = {}): Promise<string> {
  const waId = `55419${String(++contactSeq).padStart(8, '0')}`;
  await storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
    waId,
    providerMessageId: fx.fakeWamid(),
    type: 'text',
    body: 'oi',
    payload: {},
    waTimestamp: wroteAt,
  });
  return waId;
}

/** What `POST /api/messages` does: the rows (the outbox), then one send job each. */
async function queue(
  to: string,
  content: OutgoingContent,
  { windowTemplate, sendAfter }: { windowTemplate?: TemplateContent; sendAfter?: Date } = {},
): Promise<string> {
  const written = await writeOutbox(db, {
    provider: 'cloud',
    channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
    messages: outboundRows(content, { maxTextChars: 4096, windowTemplate }).map((row) => ({ waId: to, ...row })),
    sendAfter,
  });
  await send.addBulk(written.messages.map((m) => ({ messageId: m.id })));
  return written.messages[0]!.id;
}

async function settled(id: string) {
  return waitFor(
    `message ${id} to settle`,
    async () => {
      const m = await db.message.findUniqueOrThrow({ where: { id } });
      return ['queued', 'sending'].includes(m.status) ? null : m;
    },
    { timeoutMs: 15_000 },
  );
}

const text = (body: string): OutgoingContent => ({ type: 'text', text: body });
const metaError = (status: number, code: number, message = 'stand-in error') =>
  ({ kind: 'fail', status, body: { error: { message, code } } }) as const;
const followUp: TemplateContent = { name: 'follow_up', language: 'pt_BR' };
const alertsFor = (messageId: string) =>
  crm.received.filter((r) => (JSON.parse(r.body) as { messageId?: string }).messageId === messageId);

describe('retries', () => {
  it('holds a message while its number is paused, without counting the held attempts, then delivers once', async () => {
    const to = await contact();
    // What a 130429 from Meta does: the send is told to wait before it claims the message, so the
    // held attempts are not counted (a claim kept would also make the next attempt wait out the
    // whole send lease).
    await new RateLimiter(redis, prefix).pause('number', fx.DEFAULT_PHONE_NUMBER_ID, 500);
    const pausedAt = Date.now();
    const id = await queue(to, text('after the pause'));
    expect(await settled(id)).toMatchObject({ status: 'sent', sendAttempts: 1 });
    expect(graph.acceptedFor(to)).toHaveLength(1);
    expect(graph.acceptedFor(to)[0]!.at).toBeGreaterThanOrEqual(pausedAt + 490);
    expect(graph.acceptedFor(to)[0]!.at).toBeLessThan(pausedAt + TIMEOUT_MS + 5000);
  });

  it('rides out a 500 storm and a 429, then delivers exactly once', async () => {
    const to = await contact();
    graph.nextFor(to, { kind: 'fail', status: 500 }, { kind: 'fail', status: 429, body: {} });
    const id = await queue(to, text('depois da tempestade'));
    expect(await settled(id)).toMatchObject({ status: 'sent', sendAttempts: 3, viaChannelId: null });
    expect(graph.acceptedFor(to)).toHaveLength(1);
  });

  it("waits about 4^n seconds after Meta's pair-rate error 131056, then delivers once", async () => {
    const to = await contact();
    graph.nextFor(to, metaError(400, 131056, 'pair rate limit hit'));
    const started = Date.now();
    const id = await queue(to, text('devagar'));
    expect(await settled(id)).toMatchObject({ status: 'sent' });
    // 4^0 s = 1 s, less at most 20 % jitter.
    expect(graph.acceptedFor(to)[0]!.at - started).toBeGreaterThanOrEqual(800);
    expect(graph.acceptedFor(to)).toHaveLength(1);
  });

  it('retries a timeout the provider never accepted, and delivers once', async () => {
    const to = await contact();
    graph.nextFor(to, { kind: 'delay', ms: TIMEOUT_MS + 700 });
    const id = await queue(to, text('lento'));
    expect(await settled(id)).toMatchObject({ status: 'sent', sendAttempts: 2 });
    expect(graph.acceptedFor(to)).toHaveLength(1);
  });

  it('a timeout whose request the provider did accept sends that one message twice (documented), recorded once', async () => {
    const to = await contact();
    graph.nextFor(to, { kind: 'accept-late', ms: TIMEOUT_MS + 700 });
    const id = await queue(to, text('duplicada'));
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'sent', sendAttempts: 2 });
    // No API lets a sender ask Meta whether a timed-out request went through: the only
    // alternative to a possible double is a possible loss. The row keeps the second wamid.
    expect(graph.acceptedFor(to)).toHaveLength(2);
    expect(row.providerMessageId).toBe(graph.acceptedFor(to)[1]!.wamid);
  });
});

describe('the fallback chain', () => {
  it('sends through the alternate provider when the retries are spent', async () => {
    const to = await contact();
    graph.nextFor(to, { kind: 'fail', status: 500 }, { kind: 'fail', status: 500 }, { kind: 'fail', status: 500 });
    const id = await queue(to, text('pelo outro caminho'));
    const row = await settled(id);
    expect(row).toMatchObject({
      status: 'sent',
      fallbackStage: 'alternate',
      providerMessageId: expect.stringMatching(/^EVO/),
    });
    const via = await db.channel.findUniqueOrThrow({ where: { id: row.viaChannelId! } });
    expect(via).toMatchObject({ provider: 'evolution', externalId: 'backup' });
    const [request] = evolution.received.filter((r) => r.body.includes(to));
    expect(request).toMatchObject({ path: '/message/sendText/backup', headers: { apikey: 'evo-key' } });
    expect(JSON.parse(request!.body)).toEqual({ number: to, text: 'pelo outro caminho' });
    expect(graph.acceptedFor(to)).toHaveLength(0);
  });

  it('then retries once at high priority, then alerts the operators and puts the message in the manual queue', async () => {
    const to = await contact();
    evolutionRefuses.add(to);
    const storm = Array.from({ length: 4 }, () => ({ kind: 'fail', status: 500 }) as const);
    graph.nextFor(to, ...storm);
    const id = await queue(to, text('nada funciona'));
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'manual', fallbackStage: 'requeued', errorCode: '131000' });
    // The alert is recorded just after the move to the manual queue.
    await waitFor(
      'the alert to be recorded',
      async () => (await db.message.findUniqueOrThrow({ where: { id } })).alertedAt,
    );
    // Three attempts, the alternate, and the one last retry, which jumped the queue.
    expect(graph.requests.filter((r) => (r.body as { to?: string }).to === to)).toHaveLength(4);
    expect(evolution.received.filter((r) => r.body.includes(to))).toHaveLength(1);
    expect((await sendQ.getJob(`send-${id}-last`))?.opts.priority).toBe(1);
    const [alert] = await waitFor('the CRM alert', () => (alertsFor(id).length > 0 ? alertsFor(id) : null));
    expect(JSON.parse(alert!.body)).toMatchObject({
      event: 'message.send_failed',
      messageId: id,
      contact: { waId: to },
      errorCode: '131000',
    });
    expect(graph.acceptedFor(to)).toHaveLength(0);
  });

  it('fails an invalid parameter at once, with the reason stored, and alerts the operators', async () => {
    const to = await contact();
    graph.nextFor(to, metaError(400, 100, '(#100) Invalid parameter'));
    const id = await queue(to, text('parâmetro ruim'));
    expect(await settled(id)).toMatchObject({ status: 'manual', errorCode: '100', sendAttempts: 1 });
    expect(evolution.received.filter((r) => r.body.includes(to))).toHaveLength(0);
    await waitFor('the CRM alert', () => alertsFor(id).length === 1);
  });
});

describe('the 24-hour window', () => {
  it('sends the template equivalent when Meta says the window closed (131047)', async () => {
    const to = await contact();
    graph.nextFor(to, metaError(400, 131047, 'Re-engagement message'));
    const id = await queue(to, text('ainda aí?'), { windowTemplate: followUp });
    expect(await settled(id)).toMatchObject({ status: 'sent', type: 'template', sendAsTemplate: true });
    const [accepted] = graph.acceptedFor(to);
    expect(accepted!.body).toMatchObject({
      type: 'template',
      template: { name: 'follow_up', language: { code: 'pt_BR' } },
    });
    expect(graph.acceptedFor(to)).toHaveLength(1);
  });

  it('puts a free-form message without a template equivalent in the manual queue on 131047', async () => {
    const to = await contact();
    graph.nextFor(to, metaError(400, 131047, 'Re-engagement message'));
    const id = await queue(to, text('sem modelo'));
    expect(await settled(id)).toMatchObject({ status: 'manual', errorCode: '131047' });
    expect(graph.acceptedFor(to)).toHaveLength(0);
  });

  it('outside the window, sends the template equivalent straight away', async () => {
    const to = await contact({ wroteAt: new Date(Date.now() - 25 * 3600 * 1000) });
    const before = graph.requests.length;
    const id = await queue(to, text('faz tempo'), { windowTemplate: followUp });
    expect(await settled(id)).toMatchObject({ status: 'sent', type: 'template', sendAttempts: 1 });
    expect(graph.requests.slice(before).filter((r) => (r.body as { to?: string }).to === to)).toHaveLength(1);
  });
});

describe('what goes out', () => {
  it('sends templates, interactive messages and media as Meta documents them, in order', async () => {
    const to = await contact();
    const ids = [
      await queue(to, { type: 'template', template: { ...followUp, components: [{ type: 'body', parameters: [] }] } }),
      await queue(to, {
        type: 'interactive',
        interactive: { kind: 'buttons', body: 'Quer agendar?', buttons: [{ id: 'yes', title: 'Sim' }] },
      }),
      await queue(to, { type: 'image', media: { link: 'https://cdn.dealer.test/onix.jpg', caption: 'Onix 2024' } }),
    ];
    for (const id of ids) expect(await settled(id)).toMatchObject({ status: 'sent' });
    expect(graph.acceptedFor(to).map((a) => a.body.type)).toEqual(['template', 'interactive', 'image']);
    expect(graph.acceptedFor(to)[2]!.body.image).toEqual({
      link: 'https://cdn.dealer.test/onix.jpg',
      caption: 'Onix 2024',
    });
  });

  it('splits a text over the limit into messages that arrive in order', async () => {
    const to = await contact();
    const paragraphs = Array.from({ length: 3 }, (_, i) => `${String(i + 1)}. ${'palavra '.repeat(400).trim()}`);
    await queue(to, text(paragraphs.join('\n\n')));
    await waitFor('three parts', () => graph.acceptedFor(to).length === 3);
    const parts = graph.textsTo(to);
    expect(parts.every((p) => p.length <= 4096)).toBe(true);
    expect(parts.map((p) => p.slice(0, 2))).toEqual(['1.', '2.', '3.']);
  });

  it('holds a delayed send until it is due', async () => {
    const to = await contact();
    const due = new Date(Date.now() + 700);
    const id = await queue(to, text('com calma'), { sendAfter: due });
    expect(await settled(id)).toMatchObject({ status: 'sent' });
    expect(graph.acceptedFor(to)[0]!.at).toBeGreaterThanOrEqual(due.getTime());
  });

  it('writes nothing for a contact who opted out, and discards what was written before the opt-out', async () => {
    const to = await contact();
    const write = () =>
      writeOutbox(db, {
        provider: 'cloud',
        channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
        messages: [{ waId: to, type: 'text', body: 'promo', payload: { content: text('promo') } }],
      });
    const before = await write();
    await db.contact.update({ where: { waId: to }, data: { optedOutAt: new Date() } });
    expect(await write()).toMatchObject({ messages: [], optedOut: [to] });
    await send.add({ messageId: before.messages[0]!.id });
    expect(await settled(before.messages[0]!.id)).toMatchObject({ status: 'discarded', errorCode: 'opted_out' });
    expect(graph.requests.filter((r) => (r.body as { to?: string }).to === to)).toHaveLength(0);
  });
});
