import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createDb, type Db } from '@zapflow/db';
import { createLogger } from '@zapflow/logger';
import { ALL_QUEUES, createQueue, createRedis, inboxQueue, Producer, sendQueue } from '@zapflow/queue-contracts';
import { createTestDatabase, deleteKeys, TEST_REDIS_URL, uniquePrefix, type TestDatabase } from '@zapflow/testkit';
import {
  evolutionFixtures as fx,
  isRetryableMetaCode,
  StoredInboundMessage,
  StoredStatusUpdate,
} from '@zapflow/whatsapp';
import { createApp, type AppDeps } from './app';
import { createMetrics } from './metrics';
import { queuedInboxEvents } from './test-server';

const API_KEY = 'evo-test-key-5f1c';
const INSTANCE = 'loja-centro';
const prefix = uniquePrefix('evo');
let database: TestDatabase;
let db: Db;
let redis: Redis;
let queues: Queue[];
let inbox: Queue;
let server: Server;
let base: string;

function appDeps(evolution: AppDeps['evolution']): AppDeps {
  return {
    db,
    redis,
    logger: createLogger({ service: 'webhook-api-test', level: 'error', silent: true }),
    metrics: createMetrics(),
    queues,
    inbox: new Producer(inboxQueue, inbox),
    phoneNumberIds: [],
    webhook: { appSecret: undefined, verifyToken: undefined, bodyLimitBytes: 64 * 1024 },
    evolution,
    admin: { user: 'admin', password: 'pw' },
    apiKeys: [{ org: 'acme', key: 'secret-key' }],
    sending: { provider: 'evolution', maxTextChars: 4096 },
    send: new Producer(
      sendQueue,
      queues.find((q) => q.name === sendQueue.name)!,
    ),
  };
}

async function listen(deps: AppDeps): Promise<{ server: Server; base: string }> {
  const s = createApp(deps).listen(0);
  await new Promise((r) => s.once('listening', r));
  return { server: s, base: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = createRedis(TEST_REDIS_URL, 'producer');
  queues = ALL_QUEUES.map((c) => createQueue(c, redis, prefix));
  inbox = queues.find((q) => q.name === inboxQueue.name)!;
  ({ server, base } = await listen(appDeps({ apiKey: API_KEY, bodyLimitBytes: 64 * 1024 })));
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

function post(body: string, headers: Record<string, string> = {}, url = `${base}/webhook/evolution`) {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
}
/** A delivery carrying the key in the `apikey` header, as a webhook configured with headers sends it. */
function withHeaderKey(payload: unknown, url?: string) {
  return post(JSON.stringify(payload), { apikey: API_KEY }, url);
}
function upsert(data: Record<string, unknown>) {
  return fx.messagesUpsert(data, { instance: INSTANCE });
}
const idOf = (data: Record<string, unknown>) => (data.key as { id: string }).id;
const inboxRow = (wamid: string) =>
  db.inboxEvent.findFirstOrThrow({ where: { provider: 'evolution', dedupeKey: wamid } });

describe('POST /webhook/evolution', () => {
  it('records and queues a message, then answers 200', async () => {
    const data = fx.textMessage({ from: '5511988887777', pushName: 'Ana', text: 'oi, tem horário amanhã?' });
    const res = await withHeaderKey(upsert(data));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, new: 1, duplicates: 0, ignored: 0 });
    const row = await inboxRow(idOf(data));
    expect(row).toMatchObject({
      provider: 'evolution',
      kind: 'message',
      channelKey: INSTANCE,
      sender: '5511988887777',
      processedAt: null,
    });
    // What the worker reads back.
    expect(StoredInboundMessage.parse(row.payload)).toEqual({
      phoneNumberId: INSTANCE,
      waId: '5511988887777',
      profileName: 'Ana',
      wamid: idOf(data),
      type: 'text',
      timestamp: new Date((data.messageTimestamp as number) * 1000),
      text: 'oi, tem horário amanhã?',
      raw: data,
      fromMe: false,
    });
    const job = await inbox.getJob(`inbox-${row.id}`);
    expect(job?.data).toEqual({ inboxEventId: row.id, kind: 'message' });
  });

  it('accepts the apikey from the body field', async () => {
    const data = fx.textMessage({ text: 'chave no corpo' });
    const res = await post(JSON.stringify(fx.messagesUpsert(data, { instance: INSTANCE, apikey: API_KEY })));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ new: 1 });
    expect(await queuedInboxEvents(inbox)).toHaveLength(1);
  });

  it('refuses a missing or wrong apikey with 401 and queues nothing', async () => {
    const data = fx.textMessage({ text: 'forjada' });
    const attempts: [unknown, Record<string, string>][] = [
      [upsert(data), {}],
      [upsert(data), { apikey: 'wrong-key' }],
      [upsert(data), { apikey: `${API_KEY}x` }],
      [fx.messagesUpsert(data, { instance: INSTANCE, apikey: 'wrong-key' }), {}],
    ];
    for (const [payload, headers] of attempts) {
      const res = await post(JSON.stringify(payload), headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key' } });
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    expect(await db.inboxEvent.count({ where: { dedupeKey: idOf(data) } })).toBe(0);
  });

  it('refuses every delivery with 401 while EVOLUTION_API_KEY is not set', async () => {
    const unset = await listen(appDeps({ apiKey: undefined, bodyLimitBytes: 64 * 1024 }));
    try {
      const data = fx.textMessage({ text: 'sem chave configurada' });
      for (const headers of [{}, { apikey: 'anything' }, { apikey: '' }] as Record<string, string>[]) {
        const res = await post(JSON.stringify(upsert(data)), headers, `${unset.base}/webhook/evolution`);
        expect(res.status).toBe(401);
      }
      expect(await db.inboxEvent.count({ where: { dedupeKey: idOf(data) } })).toBe(0);
    } finally {
      await new Promise((r) => unset.server.close(r));
    }
  });

  it('answers 400 to a body that is not JSON', async () => {
    const res = await post('{"event": "messages.upsert", ', { apikey: API_KEY });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('answers 413 to a body over the size limit', async () => {
    const data = fx.textMessage({ text: 'x'.repeat(70 * 1024) });
    expect((await withHeaderKey(upsert(data))).status).toBe(413);
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
  });

  it('answers a duplicate delivery 200 and does not queue it again', async () => {
    const payload = upsert(fx.textMessage({ text: 'de novo' }));
    expect(await (await withHeaderKey(payload)).json()).toMatchObject({ new: 1, duplicates: 0 });
    for (let i = 0; i < 2; i++) {
      expect(await (await withHeaderKey(payload)).json()).toMatchObject({ new: 0, duplicates: 1 });
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(1);
  });

  it('records a message the business sent with fromMe: true', async () => {
    const data = fx.textMessage({ from: '5511977776666', fromMe: true, text: 'Seu pedido saiu para entrega' });
    expect(await (await withHeaderKey(upsert(data))).json()).toMatchObject({ new: 1 });
    const row = await inboxRow(idOf(data));
    expect(row.sender).toBe('5511977776666');
    expect(row.payload).toMatchObject({ fromMe: true, waId: '5511977776666', text: 'Seu pedido saiu para entrega' });
    expect(row.payload).not.toHaveProperty('profileName');
  });

  it('resolves a @lid sender to the phone number in remoteJidAlt or senderPn', async () => {
    const viaAlt = fx.textMessage({ remoteJid: fx.fakeLid(), remoteJidAlt: fx.phoneJid('5511966665555'), text: 'a' });
    const viaPn = fx.textMessage({ remoteJid: fx.fakeLid(), senderPn: fx.phoneJid('5511955554444'), text: 'b' });
    const res = await withHeaderKey(fx.messagesUpsert([viaAlt, viaPn], { instance: INSTANCE }));
    expect(await res.json()).toMatchObject({ new: 2, ignored: 0 });

    expect(await inboxRow(idOf(viaAlt))).toMatchObject({
      sender: '5511966665555',
      payload: expect.objectContaining({ waId: '5511966665555' }),
    });
    expect(await inboxRow(idOf(viaPn))).toMatchObject({
      sender: '5511955554444',
      payload: expect.objectContaining({ waId: '5511955554444' }),
    });
    expect(await queuedInboxEvents(inbox)).toHaveLength(2);
  });

  it('answers 200 to groups and other events, recording and queueing nothing', async () => {
    const group = fx.textMessage({
      remoteJid: fx.fakeGroupJid(),
      participant: fx.phoneJid('5511944443333'),
      text: 'x',
    });
    for (const payload of [
      upsert(group),
      fx.connectionUpdate(),
      // Our own read receipt of the contact's message: not a status of anything we sent.
      fx.messagesUpdate({ id: 'ABC', remoteJid: fx.phoneJid('5511944443333'), status: 'READ', fromMe: false }),
    ]) {
      const res = await withHeaderKey(payload);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, new: 0, duplicates: 0, ignored: 1 });
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    expect(await db.inboxEvent.count({ where: { dedupeKey: idOf(group) } })).toBe(0);
  });

  it('records a delivery status once, queued like a Cloud status, and answers a repeat as a duplicate', async () => {
    const wamid = fx.fakeMessageId();
    const payload = fx.messagesUpdate(
      { id: wamid, remoteJid: fx.phoneJid('5511988887777'), status: 'DELIVERY_ACK' },
      { instance: INSTANCE },
    );
    const res = await withHeaderKey(payload);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, new: 1, duplicates: 0, ignored: 0 });
    const row = await db.inboxEvent.findFirstOrThrow({
      where: { provider: 'evolution', dedupeKey: `${wamid}|delivered` },
    });
    expect(row).toMatchObject({
      kind: 'status',
      channelKey: INSTANCE,
      sender: null,
      processedAt: null,
    });
    // What the worker reads back: the Cloud path's shape, the instance standing for the number.
    expect(StoredStatusUpdate.parse(row.payload)).toEqual({
      phoneNumberId: INSTANCE,
      wamid,
      status: 'delivered',
      timestamp: new Date(payload.date_time as string),
      recipientId: '5511988887777',
      errors: [],
    });
    const job = await inbox.getJob(`inbox-${row.id}`);
    expect(job?.data).toEqual({ inboxEventId: row.id, kind: 'status' });

    expect(await (await withHeaderKey(payload)).json()).toEqual({ ok: true, new: 0, duplicates: 1, ignored: 0 });
    expect(await db.inboxEvent.count({ where: { kind: 'status', dedupeKey: `${wamid}|delivered` } })).toBe(1);
    expect(await queuedInboxEvents(inbox)).toHaveLength(1);
  });

  it('records each status a message goes through as its own event', async () => {
    const wamid = fx.fakeMessageId();
    const update = (status: string) =>
      fx.statusUpdateData({ id: wamid, remoteJid: fx.phoneJid('5511977776666'), status });
    const payload = fx.webhookBody([update('SERVER_ACK'), update('DELIVERY_ACK'), update('READ'), update('PENDING')], {
      instance: INSTANCE,
      event: 'messages.update',
    });

    expect(await (await withHeaderKey(payload, `${base}/webhook/evolution/messages-update`)).json()).toEqual({
      ok: true,
      new: 3,
      duplicates: 0,
      ignored: 1,
    });
    const rows = await db.inboxEvent.findMany({ where: { dedupeKey: { startsWith: `${wamid}|` } } });
    expect(rows.map((r) => r.dedupeKey).sort()).toEqual([`${wamid}|delivered`, `${wamid}|read`, `${wamid}|sent`]);
    expect(await queuedInboxEvents(inbox)).toHaveLength(3);
  });

  it('records an ERROR status as failed, with an error the worker will not retry', async () => {
    const wamid = fx.fakeMessageId();
    const payload = fx.messagesUpdate(
      { id: wamid, remoteJid: fx.phoneJid('5511966665555'), status: 'ERROR' },
      { instance: INSTANCE },
    );
    expect(await (await withHeaderKey(payload)).json()).toMatchObject({ new: 1 });

    const row = await db.inboxEvent.findFirstOrThrow({ where: { dedupeKey: `${wamid}|failed` } });
    const stored = StoredStatusUpdate.parse(row.payload);
    expect(stored).toMatchObject({ status: 'failed', errors: [{ code: 0, title: 'Evolution reported ERROR' }] });
    expect(isRetryableMetaCode(stored.errors[0]!.code)).toBe(false);
  });

  it('answers 200 to a body of an unknown shape, and counts it', async () => {
    for (const payload of [{ hello: 'world' }, [], 42, fx.webhookBody({ nope: true })]) {
      expect((await withHeaderKey(payload)).status).toBe(200);
    }
    expect(await queuedInboxEvents(inbox)).toHaveLength(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/zapflow_webhook_unrecognized_total\{provider="evolution"\} [1-9]/);
    expect(metrics).toMatch(/zapflow_webhook_events_total\{provider="evolution",kind="message",outcome="new"\} [1-9]/);
  });

  it('refuses to queue a message for a business-scoped user ID, which Evolution cannot reach', async () => {
    const res = await fetch(`${base}/api/messages`, {
      method: 'POST',
      headers: { Authorization: 'Bearer secret-key', 'Content-Type': 'application/json' },
      body: JSON.stringify({ to: 'US.13491208655302741918', from: INSTANCE, text: 'Olá' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_recipient' } });
    expect(await db.message.count()).toBe(0);
  });

  it('also listens on the per-event URLs Evolution uses with "webhook by events"', async () => {
    const data = fx.textMessage({ text: 'por evento' });
    const res = await withHeaderKey(upsert(data), `${base}/webhook/evolution/messages-upsert`);
    expect(await res.json()).toMatchObject({ new: 1 });
    expect(await queuedInboxEvents(inbox)).toHaveLength(1);
  });
});
