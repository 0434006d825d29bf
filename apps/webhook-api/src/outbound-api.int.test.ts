import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import type { Db } from '@zapflow/db';
import { sendQueue } from '@zapflow/queue-contracts';
import { startTestServer, type TestServer } from './test-server';

// The sending API (`/api/messages`, `/api/broadcasts`, `/api/monitoring/retry-failed`) against
// the real PostgreSQL and Redis: what it writes to the outbox and which jobs it queues.

const FROM = '106540352242922';
let server: TestServer;
let db: Db;
let sendQ: Queue;
let base: string;
const auth = { Authorization: 'Bearer secret-key', 'Content-Type': 'application/json' };

beforeAll(async () => {
  server = await startTestServer('outbound-api', {
    apiKeys: [{ org: 'acme', key: 'secret-key' }],
    sending: { provider: 'cloud', maxTextChars: 4096 },
  });
  ({ db, base } = server);
  sendQ = server.queue(sendQueue.name);
});
afterAll(() => server.close());

async function api(path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') {
  const res = await fetch(`${base}/api${path}`, {
    method,
    headers: auth,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came back
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('POST /api/messages', () => {
  it('asks which number sends while none is known, then writes the row and queues its job', async () => {
    expect(await api('/messages', { to: '5511999990001', text: 'Olá!' })).toMatchObject({
      status: 400,
      body: { error: { code: 'from_required' } },
    });
    const res = await api('/messages', { to: '5511999990001', from: FROM, text: 'Olá!' });
    expect(res.status).toBe(202);
    const [{ id }] = res.body.messages;
    expect(await db.message.findUniqueOrThrow({ where: { id } })).toMatchObject({
      direction: 'outbound',
      status: 'queued',
      type: 'text',
      body: 'Olá!',
      payload: { content: { type: 'text', text: 'Olá!' } },
    });
    const job = await sendQ.getJob(`send-${id}`);
    expect(job?.data).toEqual({ messageId: id });
    expect(job?.opts.priority).toBe(2);
    // The one business number zapflow knows now sends when none is named.
    expect((await api('/messages', { to: '5511999990001', text: 'De novo' })).status).toBe(202);
  });

  it('splits a long text into ordered parts, and delays a send when asked', async () => {
    const text = `${'a'.repeat(4000)}\n\n${'b'.repeat(200)}`;
    const res = await api('/messages', { to: '5511999990002', text, delayMs: 5000 });
    expect(res.status).toBe(202);
    const rows = await db.message.findMany({
      where: { id: { in: res.body.messages.map((m: { id: string }) => m.id) } },
      orderBy: { replyIndex: 'asc' },
    });
    expect(rows.map((r) => r.body!.length)).toEqual([4000, 200]);
    expect(rows[0]!.sendAfter!.getTime()).toBeGreaterThan(Date.now() + 3000);
    expect((await sendQ.getJob(`send-${rows[0]!.id}`))?.opts.delay).toBe(5000);
  });

  it('takes interactive content and a template equivalent, and names what is wrong in bad input', async () => {
    const ok = await api('/messages', {
      to: '5511999990003',
      content: {
        type: 'interactive',
        interactive: { kind: 'buttons', body: 'Agendar?', buttons: [{ id: 'y', title: 'Sim' }] },
      },
      windowTemplate: { name: 'follow_up', language: 'pt_BR' },
    });
    expect(ok.status).toBe(202);
    expect(await db.message.findUniqueOrThrow({ where: { id: ok.body.messages[0].id } })).toMatchObject({
      type: 'interactive',
      payload: { windowTemplate: { name: 'follow_up' } },
    });
    const tooMany = Array.from({ length: 4 }, (_, i) => ({ id: String(i), title: `B${i}` }));
    const bad = await api('/messages', {
      to: '5511999990003',
      content: { type: 'interactive', interactive: { kind: 'buttons', body: 'x', buttons: tooMany } },
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(bad.body.error.message).toMatch(/buttons/);
    expect((await api('/messages', { to: 'not-a-number', text: 'x' })).status).toBe(400);
    expect((await api('/messages', { to: '5511999990003' })).status).toBe(400);
  });

  it('takes a business-scoped user ID as the recipient, for a user who hides their number', async () => {
    const to = 'US.13491208655302741918';
    const res = await api('/messages', { to, from: FROM, text: 'Olá!' });
    expect(res.status).toBe(202);
    const row = await db.message.findUniqueOrThrow({
      where: { id: res.body.messages[0].id },
      include: { conversation: { include: { contact: true } } },
    });
    expect(row.conversation.contact.waId).toBe(to);
    expect((await api('/messages', { to: 'US.', from: FROM, text: 'x' })).status).toBe(400);
  });

  it('sends to a BSUID recorded on a contact known by number through that contact, opt-out and all', async () => {
    const [phone, bsuid] = ['5511999990021', 'BR.80417736205590012345'];
    await db.contact.create({ data: { waId: phone, userId: bsuid } });
    const res = await api('/messages', { to: bsuid, from: FROM, text: 'Olá de novo' });
    expect(res.status).toBe(202);
    const row = await db.message.findUniqueOrThrow({
      where: { id: res.body.messages[0].id },
      include: { conversation: { include: { contact: true } } },
    });
    expect(row.conversation.contact.waId).toBe(phone);
    expect(await db.contact.count({ where: { waId: bsuid } })).toBe(0);

    await db.contact.update({ where: { waId: phone }, data: { optedOutAt: new Date() } });
    expect(await api('/messages', { to: bsuid, text: 'promo' })).toMatchObject({
      status: 409,
      body: { error: { code: 'opted_out', message: expect.stringContaining(bsuid) } },
    });
  });

  it('refuses a NUL or half a surrogate pair anywhere in the request with a 400 naming where, writing nothing', async () => {
    const to = '5511999990009';
    const inText = await api('/messages', { to, from: FROM, text: 'before\u0000after' });
    expect(inText).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(inText.body.error.message).toMatch(/^text: .*NUL/);
    const halfPair = await api('/messages', { to, from: FROM, content: { type: 'text', text: 'emoji \ud83d cut' } });
    expect(halfPair.status).toBe(400);
    expect(halfPair.body.error.message).toMatch(/^content\.text: .*surrogate/);
    const inTemplate = await api('/messages', {
      to,
      from: FROM,
      text: 'fine',
      windowTemplate: {
        name: 'follow_up',
        language: 'pt_BR',
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'a\u0000' }] }],
      },
    });
    expect(inTemplate.status).toBe(400);
    expect(inTemplate.body.error.message).toMatch(/^windowTemplate\.components\.0\.parameters\.0\.text: .*NUL/);
    expect(await db.message.count({ where: { conversation: { contact: { waId: to } } } })).toBe(0);
  });

  it('refuses a contact who opted out, and needs a key', async () => {
    await db.contact.upsert({
      where: { waId: '5511999990004' },
      create: { waId: '5511999990004', optedOutAt: new Date() },
      update: { optedOutAt: new Date() },
    });
    expect(await api('/messages', { to: '5511999990004', text: 'promo' })).toMatchObject({
      status: 409,
      body: { error: { code: 'opted_out' } },
    });
    const res = await fetch(`${base}/api/messages`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });
});

describe('POST /api/broadcasts', () => {
  it('queues one job per recipient behind live replies, skips opt-outs and repeats, and reports progress', async () => {
    const res = await api('/broadcasts', {
      template: { name: 'promo_novembro', language: 'pt_BR' },
      recipients: [
        '5511999991001',
        { to: '5511999991002', components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }] },
        '5511999991001',
        '5511999990004',
      ],
    });
    expect(res).toMatchObject({
      status: 202,
      body: { requested: 4, queued: 2, skipped: { optedOut: 1, duplicates: 1 } },
    });
    const rows = await db.message.findMany({
      where: { broadcastId: res.body.id },
      include: { conversation: { include: { contact: true } } },
    });
    expect(rows).toHaveLength(2);
    const ana = rows.find((r) => r.conversation.contact.waId === '5511999991002')!;
    expect(ana.payload).toMatchObject({ content: { type: 'template', template: { components: [{ type: 'body' }] } } });
    for (const row of rows) expect((await sendQ.getJob(`send-${row.id}`))?.opts.priority).toBe(5);

    const progress = await api(`/broadcasts/${res.body.id}`);
    expect(progress).toMatchObject({
      status: 200,
      body: {
        total: 2,
        pending: 2,
        done: false,
        counts: { queued: 2, delivered: 0 },
        template: { name: 'promo_novembro' },
      },
    });
    await db.message.update({ where: { id: rows[0]!.id }, data: { status: 'delivered' } });
    await db.message.update({ where: { id: rows[1]!.id }, data: { status: 'manual' } });
    expect((await api(`/broadcasts/${res.body.id}`)).body).toMatchObject({
      pending: 0,
      done: true,
      counts: { queued: 0, delivered: 1, manual: 1 },
    });
  });

  it('sends one message to a contact named by both their number and their BSUID', async () => {
    const [phone, bsuid] = ['5511999991031', 'BR.80417736205590067890'];
    await db.contact.create({ data: { waId: phone, userId: bsuid } });
    const res = await api('/broadcasts', {
      template: { name: 'promo_novembro', language: 'pt_BR' },
      recipients: [bsuid, phone, '5511999991032'],
    });
    expect(res).toMatchObject({
      status: 202,
      body: { requested: 3, queued: 2, skipped: { optedOut: 0, duplicates: 1 } },
    });
    const rows = await db.message.findMany({
      where: { broadcastId: res.body.id },
      include: { conversation: { include: { contact: true } } },
    });
    expect(rows.map((r) => r.conversation.contact.waId).sort()).toEqual([phone, '5511999991032']);
  });

  it('answers 404 for an unknown broadcast and 400 for a bad id or an empty list', async () => {
    expect((await api('/broadcasts/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api('/broadcasts/nope')).status).toBe(400);
    expect((await api('/broadcasts', { template: { name: 't', language: 'pt_BR' }, recipients: [] })).status).toBe(400);
  });
});

describe('POST /api/monitoring/retry-failed', () => {
  it('replays the sends that failed within the given hours, and only those', async () => {
    const sent = await api('/messages', { to: '5511999992001', text: 'recente' });
    const old = await api('/messages', { to: '5511999992002', text: 'antiga' });
    const recentId = sent.body.messages[0].id as string;
    const oldId = old.body.messages[0].id as string;
    await db.message.update({
      where: { id: recentId },
      data: {
        status: 'manual',
        failedAt: new Date(Date.now() - 2 * 3600_000),
        errorCode: '131000',
        fallbackStage: 'requeued',
      },
    });
    await db.message.update({
      where: { id: oldId },
      data: { status: 'manual', failedAt: new Date(Date.now() - 30 * 3600_000) },
    });
    // The first job finished long ago, as far as BullMQ knows: the replay must still queue one.
    await (await sendQ.getJob(`send-${recentId}`))!.remove();

    const res = await api('/monitoring/retry-failed', { hours: 24 });
    expect(res).toMatchObject({ status: 200, body: { hours: 24, requeued: 1, ids: [recentId] } });
    expect(await db.message.findUniqueOrThrow({ where: { id: recentId } })).toMatchObject({
      status: 'queued',
      fallbackStage: null,
      failedAt: null,
    });
    expect(await sendQ.getJob(`send-${recentId}`)).toBeDefined();
    expect((await db.message.findUniqueOrThrow({ where: { id: oldId } })).status).toBe('manual');
    expect((await api('/monitoring/retry-failed', { hours: -1 })).status).toBe(400);
  });
});
