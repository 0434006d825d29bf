import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDb, storeInboundMessage, type Db } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import { ALL_QUEUES, createQueue, createRedis, inboxQueue, Producer, sendQueue } from '@zapflow/queue-contracts';
import { createTestDatabase, deleteKeys, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from '@zapflow/testkit';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';
import { createApp } from './app';
import { createMetrics } from './metrics';
import { queuedInboxEvents } from './test-server';

const secret = 'test-app-secret';
const prefix = uniquePrefix('api');
let database: TestDatabase;
let db: Db;
let redis: Redis;
let queues: Queue[];
let inbox: Queue;
let server: Server;
let base: string;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = createRedis(TEST_REDIS_URL, 'producer');
  queues = ALL_QUEUES.map((c) => createQueue(c, redis, prefix));
  inbox = queues.find((q) => q.name === inboxQueue.name)!;
  const app = createApp({
    db,
    redis,
    logger: createLogger({ service: 'webhook-api-test', level: 'error', silent: true }),
    metrics: createMetrics(),
    queues,
    inbox: new Producer(inboxQueue, inbox),
    phoneNumberIds: [],
    webhook: { appSecret: secret, verifyToken: 'verify-me', bodyLimitBytes: 64 * 1024 },
    evolution: { apiKey: undefined, bodyLimitBytes: 64 * 1024 },
    admin: { user: 'admin', password: 'pw' },
    apiKeys: [{ org: 'acme', key: 'secret-key' }],
    send: new Producer(
      sendQueue,
      queues.find((q) => q.name === sendQueue.name)!,
    ),
  });
  server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await Promise.all(queues.map((q) => q.close()));
  redis.disconnect();
  await db.$disconnect();
  await database.drop();
  await deleteKeys(prefix);
});
beforeEach(async () => {
  await inbox.drain(true);
});

function post(body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${base}/webhook/whatsapp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
}
function signed(payload: unknown) {
  const body = JSON.stringify(payload);
  return post(body, { 'X-Hub-Signature-256': signBody(body, secret) });
}
const text = (body: string, from = '5511988887777') =>
  fx.messagesNotification({ messages: [fx.textMessage({ from, body })] });

describe('GET /webhook/whatsapp (subscription handshake)', () => {
  it('echoes the challenge as text when the verify token matches', async () => {
    const res = await fetch(
      `${base}/webhook/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444`,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('1158201444');
  });

  it('answers 403 to a wrong token', async () => {
    const res = await fetch(`${base}/webhook/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`);
    expect(res.status).toBe(403);
  });
});

describe('POST /webhook/whatsapp', () => {
  it('records and queues a signed message, then answers 200', async () => {
    const payload = text('oi');
    const res = await signed(payload);
    expect(res.status).toBe(200);
    // The answer is written straight to the socket (webhook-answer.ts): the headers res.json sets.
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const answer = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(answer)));
    expect(JSON.parse(answer)).toEqual({
      ok: true,
      received: 1,
      new: 1,
      duplicates: 0,
      ignored: 0,
      skipped: 0,
      unrecognized: 0,
    });
    const wamid = (payload.entry[0]!.changes[0]!.value.messages as { id: string }[])[0]!.id;
    const row = await db.inboxEvent.findFirstOrThrow({ where: { dedupeKey: wamid } });
    expect(row).toMatchObject({
      provider: 'cloud',
      kind: 'message',
      channelKey: fx.DEFAULT_PHONE_NUMBER_ID,
      processedAt: null,
    });
    const job = await inbox.getJob(`inbox-${row.id}`);
    expect(job?.data).toEqual({ inboxEventId: row.id, kind: 'message' });
  });

  it('answers a duplicate delivery 200 and does not queue it again', async () => {
    const payload = text('de novo');
    for (let i = 0; i < 3; i++) expect((await signed(payload)).status).toBe(200);
    expect(await queuedInboxEvents(inbox)).toHaveLength(1);
  });

  it('records concurrent deliveries together, each answered after its own commit, a repeat once', async () => {
    // Deliveries that arrive while others are being written share one INSERT (the inbox writer).
    const repeated = text('a mesma, várias vezes');
    const distinct = Array.from({ length: 30 }, (_, i) =>
      text(`mensagem ${i}`, `55119770${String(i).padStart(5, '0')}`),
    );
    const answers = await Promise.all([...distinct, ...Array.from({ length: 5 }, () => repeated)].map(signed));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 35 }, () => 200));
    const outcomes = (await Promise.all(answers.map((a) => a.json()))) as { new: number; duplicates: number }[];
    expect(outcomes.slice(0, 30).every((o) => o.new === 1)).toBe(true);
    expect(
      outcomes
        .slice(30)
        .map((o) => o.new)
        .sort(),
    ).toEqual([0, 0, 0, 0, 1]);
    expect(await queuedInboxEvents(inbox)).toHaveLength(31);
    const wamid = (repeated.entry[0]!.changes[0]!.value.messages as { id: string }[])[0]!.id;
    expect(await db.inboxEvent.count({ where: { dedupeKey: wamid } })).toBe(1);
  });

  it('records two messages of one delivery as two events', async () => {
    const from = '5511977776666';
    const payload = fx.messagesNotification({
      messages: [fx.textMessage({ from, body: 'oi' }), fx.textMessage({ from, body: 'tudo bem?' })],
    });
    expect(await (await signed(payload)).json()).toMatchObject({ new: 2 });
    expect(await queuedInboxEvents(inbox)).toHaveLength(2);
  });

  it('records a message with a NUL or a lone surrogate beside the others of its delivery, not a 500', async () => {
    // JSON allows both; PostgreSQL's jsonb refuses them, and a refused batch would be a 500 that
    // Meta retries for days, holding the delivery's other messages with it.
    const from = '5511977775555';
    const payload = fx.messagesNotification({
      messages: [fx.textMessage({ from, body: 'a\u0000b' }), fx.textMessage({ from, body: 'oi \ud83d' })],
    });
    const res = await signed(payload);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ new: 2 });
    expect(await queuedInboxEvents(inbox)).toHaveLength(2);
  });

  it('records statuses too, once per message and status', async () => {
    const status = fx.statusNotification({ wamid: 'wamid.sent.1', status: 'delivered', recipientId: '5511900000000' });
    expect(await (await signed(status)).json()).toMatchObject({ new: 1 });
    expect(await (await signed(status)).json()).toMatchObject({ new: 0, duplicates: 1 });
    expect(await db.inboxEvent.count({ where: { kind: 'status', dedupeKey: 'wamid.sent.1|delivered' } })).toBe(1);
  });

  it('refuses a missing or wrong signature with 401 and queues nothing', async () => {
    const body = JSON.stringify(text('forged'));
    expect((await post(body)).status).toBe(401);
    expect((await post(body, { 'X-Hub-Signature-256': signBody(body, 'wrong-secret') })).status).toBe(401);
    expect((await post(body, { 'X-Hub-Signature-256': signBody(body + ' ', secret) })).status).toBe(401);
    const res = await post(body, { 'X-Hub-Signature-256': 'sha256=abc' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    expect(await db.inboxEvent.count({ where: { payload: { path: ['text'], equals: 'forged' } } })).toBe(0);
  });

  it('checks the signature before parsing: unsigned garbage is 401, not 400', async () => {
    expect((await post('{not json')).status).toBe(401);
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    const body = '{"object": "whatsapp_business_account", ';
    const res = await post(body, { 'X-Hub-Signature-256': signBody(body, secret) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('answers 413 to a body over the size limit', async () => {
    const body = JSON.stringify({ object: 'whatsapp_business_account', pad: 'x'.repeat(70 * 1024) });
    const res = await post(body, { 'X-Hub-Signature-256': signBody(body, secret) });
    expect(res.status).toBe(413);
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
  });

  it('answers 200 to a signed body of an unknown shape, and counts it', async () => {
    for (const payload of [{ hello: 'world' }, [], 42, { object: 'page', entry: [] }]) {
      expect((await signed(payload)).status).toBe(200);
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/zapflow_webhook_unrecognized_total\{provider="cloud"\} [1-9]/);
  });

  it("answers 200 to other subscriptions' notices, group messages and account errors, storing none", async () => {
    const groupMessage = fx.textMessage({
      from: '5511988880001',
      groupId: 'HBgLMTY1MDM4Nzk0MzkVAgASGBQ',
      body: 'hi all',
    });
    const deliveries = [
      fx.otherFieldNotification('message_template_status_update', {
        event: 'APPROVED',
        message_template_name: 'order_confirmation',
        message_template_language: 'en-US',
        reason: 'NONE',
      }),
      fx.messagesNotification({ messages: [groupMessage] }),
      fx.notification({ errors: [fx.metaError({ code: 131000, title: 'Something went wrong' })] }),
    ];
    for (const delivery of deliveries) {
      const res = await signed(delivery);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ received: 0, new: 0, skipped: 1, unrecognized: 0 });
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    expect(await db.inboxEvent.count({ where: { dedupeKey: String(groupMessage.id) } })).toBe(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const what of ['message_template_status_update', 'group_message', 'account_error']) {
      expect(metrics).toContain(`zapflow_webhook_skipped_total{provider="cloud",what="${what}"} 1`);
    }
  });

  it('still answers 200 when Redis is unreachable: the event is stored for the sweeper', async () => {
    // A producer on a dead port: adding fails fast, the row must still be there.
    const deadRedis = createRedis('redis://127.0.0.1:1', 'producer', { retryStrategy: () => null });
    deadRedis.on('error', () => {});
    const deadQueue = createQueue(inboxQueue, deadRedis, prefix);
    deadQueue.on('error', () => {});
    const app = createApp({
      db,
      redis: deadRedis,
      logger: createLogger({ service: 't', level: 'error', silent: true }),
      metrics: createMetrics(),
      queues: [deadQueue],
      inbox: new Producer(inboxQueue, deadQueue),
      phoneNumberIds: [],
      webhook: { appSecret: secret, verifyToken: undefined, bodyLimitBytes: 64 * 1024 },
      evolution: { apiKey: undefined, bodyLimitBytes: 64 * 1024 },
      admin: { user: 'a', password: 'b' },
      apiKeys: [],
      send: new Producer(sendQueue, deadQueue),
    });
    const s = app.listen(0);
    await new Promise((r) => s.once('listening', r));
    try {
      const payload = text('redis is down');
      const body = JSON.stringify(payload);
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/webhook/whatsapp`, {
        method: 'POST',
        headers: { 'X-Hub-Signature-256': signBody(body, secret) },
        body,
      });
      expect(res.status).toBe(200);
      const wamid = (payload.entry[0]!.changes[0]!.value.messages as { id: string }[])[0]!.id;
      expect(await db.inboxEvent.count({ where: { dedupeKey: wamid, processedAt: null } })).toBe(1);
      const ready = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ checks: { postgres: 'ok' } });
    } finally {
      await new Promise((r) => s.close(r));
      await deadQueue.close().catch(() => {});
      deadRedis.disconnect();
    }
  });

  it('ignores messages to business numbers outside WHATSAPP_PHONE_NUMBER_IDS', async () => {
    const app = createApp({
      db,
      redis,
      logger: createLogger({ service: 't', level: 'error', silent: true }),
      metrics: createMetrics(),
      queues,
      inbox: new Producer(inboxQueue, inbox),
      phoneNumberIds: ['some-other-number'],
      webhook: { appSecret: secret, verifyToken: undefined, bodyLimitBytes: 64 * 1024 },
      evolution: { apiKey: undefined, bodyLimitBytes: 64 * 1024 },
      admin: { user: 'a', password: 'b' },
      apiKeys: [],
      send: new Producer(
        sendQueue,
        queues.find((q) => q.name === sendQueue.name)!,
      ),
    });
    const s = app.listen(0);
    await new Promise((r) => s.once('listening', r));
    try {
      const body = JSON.stringify(text('not for us'));
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/webhook/whatsapp`, {
        method: 'POST',
        headers: { 'X-Hub-Signature-256': signBody(body, secret) },
        body,
      });
      expect(await res.json()).toMatchObject({ new: 0, ignored: 1 });
      expect(await queuedInboxEvents(inbox)).toHaveLength(0);
      // Another number's account error is that number's deployment's to report.
      const errorBody = JSON.stringify(fx.notification({ errors: [fx.metaError({ code: 131000 })] }));
      const error = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/webhook/whatsapp`, {
        method: 'POST',
        headers: { 'X-Hub-Signature-256': signBody(errorBody, secret) },
        body: errorBody,
      });
      expect(await error.json()).toMatchObject({ received: 0, skipped: 0, ignored: 1 });
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});

describe('operations routes', () => {
  it('/health answers 200 and /ready checks Redis and PostgreSQL', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', postgres: 'ok' } });
  });

  it('/metrics speaks the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await res.text()).toMatch(/# TYPE zapflow_webhook_events_total counter/);
  });

  it('keeps Bull Board behind the admin login', async () => {
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    const res = await fetch(`${base}/admin/queues`, {
      headers: { Authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });
});

describe('operator API', () => {
  const auth = { Authorization: 'Bearer secret-key', 'Content-Type': 'application/json' };
  const release = (id: string, headers: Record<string, string> = auth) =>
    fetch(`${base}/api/conversations/${id}/release`, { method: 'POST', headers });

  it('refuses a missing or unknown key with 401 and a JSON error', async () => {
    const id = '6f1c7c1e-8f0a-4a8e-9c59-2f0f5d3f0a11';
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer nope' }, { Authorization: 'secret-key' }];
    for (const headers of attempts) {
      const res = await release(id, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('answers 400 to an id that is not a UUID and 404 to an unknown conversation', async () => {
    expect((await release('not-a-uuid')).status).toBe(400);
    const res = await release('6f1c7c1e-8f0a-4a8e-9c59-2f0f5d3f0a11');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('gives a conversation with a person back to the bot', async () => {
    const { conversationId } = await storeInboundMessage(db, {
      provider: 'cloud',
      channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
      waId: '5511955554444',
      providerMessageId: fx.fakeWamid(),
      type: 'text',
      body: 'oi',
      payload: {},
      waTimestamp: new Date(),
    });
    await db.conversation.update({ where: { id: conversationId }, data: { state: 'human' } });
    await db.handoff.create({ data: { conversationId, reason: 'contact_asked' } });
    const res = await release(conversationId);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ conversationId, state: 'bot', released: true });
    expect((await db.conversation.findUniqueOrThrow({ where: { id: conversationId } })).state).toBe('bot');
    expect(await db.handoff.findFirstOrThrow({ where: { conversationId } })).toMatchObject({
      releasedBy: 'operator',
    });
    expect(await (await release(conversationId)).json()).toMatchObject({ released: false });
  });
});

describe('manual queue API', () => {
  const auth = { Authorization: 'Bearer secret-key' };

  async function manualMessage(waId: string) {
    const { conversationId, channelId } = await storeInboundMessage(db, {
      provider: 'cloud',
      channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
      waId,
      providerMessageId: fx.fakeWamid(),
      type: 'text',
      body: 'oi',
      payload: {},
      waTimestamp: new Date(),
    });
    return db.message.create({
      data: {
        conversationId,
        channelId,
        direction: 'outbound',
        type: 'text',
        body: 'Olá! Seguem os preços.',
        status: 'manual',
        errorCode: '131026',
        errorMessage: 'Message undeliverable',
        failedAt: new Date(),
      },
    });
  }

  it('lists the messages waiting for a person, with their reasons', async () => {
    const m = await manualMessage('5511944443333');
    const res = await fetch(`${base}/api/manual-queue`, { headers: auth });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { id: string }[] };
    expect(items.find((i) => i.id === m.id)).toMatchObject({
      to: '5511944443333',
      body: 'Olá! Seguem os preços.',
      errorCode: '131026',
      errorMessage: 'Message undeliverable',
    });
    expect((await fetch(`${base}/api/manual-queue`)).status).toBe(401);
  });

  it('resends a message: back to queued with a send job', async () => {
    const m = await manualMessage('5511944442222');
    const res = await fetch(`${base}/api/manual-queue/${m.id}/resend`, { method: 'POST', headers: auth });
    expect(await res.json()).toEqual({ id: m.id, status: 'queued' });
    expect((await db.message.findUniqueOrThrow({ where: { id: m.id } })).status).toBe('queued');
    const sendQ = queues.find((q) => q.name === sendQueue.name)!;
    expect((await sendQ.getJob(`send-${m.id}`))?.data).toEqual({ messageId: m.id });
    expect((await fetch(`${base}/api/manual-queue/${m.id}/resend`, { method: 'POST', headers: auth })).status).toBe(
      404,
    );
  });

  it('discards a message', async () => {
    const m = await manualMessage('5511944441111');
    const res = await fetch(`${base}/api/manual-queue/${m.id}/discard`, { method: 'POST', headers: auth });
    expect(await res.json()).toEqual({ id: m.id, status: 'discarded' });
    expect((await db.message.findUniqueOrThrow({ where: { id: m.id } })).status).toBe('discarded');
  });
});
