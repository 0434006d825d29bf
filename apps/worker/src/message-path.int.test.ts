import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, Worker, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { commitTurn, createDb, recordInboxEvents, storeInboundMessage, type Db } from '@zapflow/db';
import { RateLimiter } from '@zapflow/idempotency';
import { createLogger } from '@zapflow/logger';
import {
  createQueue,
  createRedis,
  highQueue,
  inboxQueue,
  Producer,
  SEND_BACKOFF,
  sendQueue,
  turnQueue,
} from '@zapflow/queue-contracts';
import {
  createTestDatabase,
  deleteKeys,
  GraphStandIn,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  type TestDatabase,
} from '@zapflow/testkit';
import {
  CloudApiClient,
  extractEvents,
  SendError,
  webhookFixtures as fx,
  type InboundMessage,
} from '@zapflow/whatsapp';
import { FallbackChain } from './fallback-chain';
import { sendProcessor, sendRetryDelay } from './processors/send.processor';
import { SendLimits } from './send-limits';
import { sendOutbound, type SendDeps } from './send.service';
import { SentMarkers } from './sent-markers';
import { handleInboundBatch, handleInboundMessage } from './inbound.service';
import { inboxProcessor } from './processors/inbox.processor';
import { handleStatus, StatusTargetNotFound, type StatusDeps } from './status.service';
import { sweep, type SweepDeps } from './sweep.service';
import { TurnScheduler } from './turn-scheduler';

const prefix = uniquePrefix('worker');
const logger = createLogger({ service: 'worker-test', level: 'error', silent: true });
let database: TestDatabase;
let db: Db;
let redis: Redis;
let sendQ: Queue;
let inboxQ: Queue;
let sweepDeps: SweepDeps;
let graph: GraphStandIn;
let sender: CloudApiClient;
let sendDeps: SendDeps;
let statusDeps: StatusDeps;
const generousLimits = {
  WHATSAPP_PROVIDER: 'cloud' as const,
  SEND_RATE_PER_NUMBER_PER_S: 1000,
  SEND_RATE_PER_RECIPIENT_INTERVAL_MS: 10,
  SEND_RATE_PER_RECIPIENT_BURST: 100,
  EVOLUTION_RATE_PER_MINUTE: 1000,
  NUMBER_BACKOFF_MS: 700,
};

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url });
  redis = createRedis(TEST_REDIS_URL, 'worker');
  sendQ = createQueue(sendQueue, redis, prefix);
  inboxQ = createQueue(inboxQueue, redis, prefix);
  sweepDeps = {
    db,
    inbox: new Producer(inboxQueue, inboxQ),
    send: new Producer(sendQueue, sendQ),
    notify: new Producer(highQueue, createQueue(highQueue, redis, prefix)),
    turns: new TurnScheduler(db, new Producer(turnQueue, createQueue(turnQueue, redis, prefix)), {
      debounceMs: 2000,
      maxWaitMs: 6000,
    }),
    logger,
  };
  graph = await new GraphStandIn('token').start();
  sender = new CloudApiClient({ baseUrl: graph.url, apiVersion: 'v21.0', accessToken: 'token', timeoutMs: 2000 });
  const fallback = new FallbackChain({
    db,
    send: sweepDeps.send,
    alerts: sweepDeps.notify,
    alertChannels: [],
    hasAlternate: false,
    lastRetryDelayMs: 50,
    logger,
  });
  statusDeps = { db, logger, send: sweepDeps.send, fallback };
  sendDeps = {
    db,
    sender,
    fallback,
    logger,
    sendLeaseMs: 5000,
    windowMs: 86_400_000,
    limits: new SendLimits(new RateLimiter(redis, prefix), generousLimits),
  };
});
afterAll(async () => {
  await sender.close();
  await graph.stop();
  await Promise.all([sendQ.close(), inboxQ.close()]);
  redis.disconnect();
  await db.$disconnect();
  await database.drop();
  await deleteKeys(prefix);
});
beforeEach(async () => {
  await sendQ.drain(true);
});

let seq = 0;
/** What the webhook does: extract a delivery's messages and record them in the inbox. */
async function receive(body: string, from = `55119${String(++seq).padStart(8, '0')}`) {
  const delivery = fx.messagesNotification({ profileName: 'Maria Silva', messages: [fx.textMessage({ from, body })] });
  return { ...(await recordExtracted(delivery)), from };
}

/** `receive` for any message of Meta's: records it in the inbox as the webhook does. */
async function receiveMessage(message: Parameters<typeof fx.messagesNotification>[0]['messages'][number]) {
  return recordExtracted(fx.messagesNotification({ messages: [message] }));
}

/** Records the one message a delivery carries, as the webhook does. */
async function recordExtracted(delivery: ReturnType<typeof fx.messagesNotification>) {
  return recordMessage(extractEvents(delivery).messages[0]!);
}

/** Records an extracted message in the inbox, as the webhook does. */
async function recordMessage(extracted: InboundMessage) {
  const [row] = await recordInboxEvents(db, [
    {
      provider: 'cloud',
      kind: 'message',
      channelKey: extracted.phoneNumberId,
      dedupeKey: extracted.wamid,
      payload: extracted,
    },
  ]);
  return { inboxEventId: row!.id, wamid: extracted.wamid };
}

/** A reply stored by a turn and waiting in the outbox, as the turn service leaves it. */
let fence = 0;
async function queuedReply(body = 'Olá, Maria!', from = `55119${String(++seq).padStart(8, '0')}`) {
  const { conversationId, messageId, channelId } = await storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
    waId: from,
    providerMessageId: fx.fakeWamid(),
    type: 'text',
    body: 'oi',
    payload: {},
    waTimestamp: new Date(),
  });
  return { id: await commitReply({ conversationId, channelId, inputMessageIds: [messageId] }, body), from };
}

const nextNumber = () => `55119${String(++seq).padStart(8, '0')}`;

async function contactOf(conversationId: string): Promise<string> {
  const conversation = await db.conversation.findUniqueOrThrow({
    where: { id: conversationId },
    include: { contact: true },
  });
  return conversation.contact.waId;
}

/** A reply queued in an existing conversation, answering its unanswered messages. */
async function queuedReplyIn(conversationId: string): Promise<string> {
  const { channelId } = await db.conversation.findUniqueOrThrow({ where: { id: conversationId } });
  const inputs = await db.message.findMany({ where: { conversationId, direction: 'inbound', turnId: null } });
  return commitReply({ conversationId, channelId, inputMessageIds: inputs.map((m) => m.id) }, 'Já te respondo');
}

async function commitReply(
  turn: { conversationId: string; channelId: string; inputMessageIds: string[] },
  body: string,
): Promise<string> {
  const committed = await commitTurn(db, {
    ...turn,
    fence: ++fence,
    input: [],
    result: { engine: 'local', status: 'done', replies: [{ type: 'text', body }], latencyMs: 1 },
    failedTurns: 0,
  });
  if ('rejected' in committed) throw new Error('turn rejected');
  return committed.outbound[0]!.id;
}

describe('sending through the Cloud API', () => {
  it('posts the reply from the business number that received the message and stores the wamid', async () => {
    const reply = await queuedReply();
    const result = (await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })) as {
      providerMessageId: string;
    };
    const accepted = graph.accepted.find((a) => a.body.to === reply.from)!;
    expect(accepted.phoneNumberId).toBe(fx.DEFAULT_PHONE_NUMBER_ID);
    expect(accepted.apiVersion).toBe('v21.0');
    expect(accepted.body).toMatchObject({
      messaging_product: 'whatsapp',
      type: 'text',
      text: { body: expect.stringMatching(/^Olá/) },
    });
    expect(graph.requests.at(-1)?.authorization).toBe('Bearer token');
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'sent',
      providerMessageId: result!.providerMessageId,
      sendAttempts: 1,
    });
  });

  it('records, instead of sending again, a message an earlier attempt got out but could not record', async () => {
    const reply = await queuedReply();
    const markers = new SentMarkers(redis, prefix);
    // What an attempt leaves when the provider accepted the message and the database then failed.
    await markers.note(reply.id, { providerMessageId: 'wamid.sent-before', asTemplate: false });
    await db.message.update({
      where: { id: reply.id },
      data: { status: 'sending', sendAttempts: 1, updatedAt: new Date(0) },
    });
    const requests = graph.requests.length;
    expect(await sendOutbound({ ...sendDeps, sent: markers }, reply.id, { isLastAttempt: false })).toEqual({
      providerMessageId: 'wamid.sent-before',
    });
    expect(graph.requests.length).toBe(requests);
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'sent',
      providerMessageId: 'wamid.sent-before',
    });
  });

  it('forgets the note once the send is recorded, and a stale note never blocks sending again', async () => {
    const reply = await queuedReply();
    const markers = new SentMarkers(redis, prefix);
    const sent = (await sendOutbound({ ...sendDeps, sent: markers }, reply.id, { isLastAttempt: false })) as {
      providerMessageId: string;
    };
    expect(await markers.find(reply.id)).toBeNull();
    // A note left behind (Redis answered late) for the send already recorded...
    await markers.note(reply.id, { providerMessageId: sent.providerMessageId, asTemplate: false });
    // ...and the message goes back to the outbox on purpose (a failed delivery, a resend).
    await db.message.update({ where: { id: reply.id }, data: { status: 'queued' } });
    const again = (await sendOutbound({ ...sendDeps, sent: markers }, reply.id, { isLastAttempt: false })) as {
      providerMessageId: string;
    };
    expect(again.providerMessageId).not.toBe(sent.providerMessageId);
    expect(graph.textsTo(reply.from)).toHaveLength(2);
  });

  it('never sends a message twice', async () => {
    const reply = await queuedReply();
    await sendOutbound(sendDeps, reply.id, { isLastAttempt: false });
    expect(await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })).toBeNull();
    expect(graph.textsTo(reply.from)).toHaveLength(1);
  });

  it('puts a message back to queued with the error when a retryable failure happens', async () => {
    const reply = await queuedReply();
    graph.next({ kind: 'fail', status: 503, body: { error: { message: 'Service unavailable', code: 131016 } } });
    const error = await sendOutbound(sendDeps, reply.id, { isLastAttempt: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect((error as SendError).retryable).toBe(true);
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'queued',
      errorCode: '131016',
    });
  });

  it('puts a message in the manual queue at once, with the reason, on an error retrying cannot fix', async () => {
    const reply = await queuedReply();
    graph.next({
      kind: 'fail',
      status: 400,
      body: { error: { message: '(#100) Invalid parameter', code: 100, error_data: { details: 'to is invalid' } } },
    });
    await expect(sendOutbound(sendDeps, reply.id, { isLastAttempt: false })).rejects.toThrow(/100/);
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'manual',
      errorCode: '100',
      errorMessage: '(#100) Invalid parameter: to is invalid',
    });
  });

  it("puts Meta's re-engagement error (131047) in the manual queue instead of retrying", async () => {
    const reply = await queuedReply();
    graph.next({
      kind: 'fail',
      status: 400,
      body: {
        error: { message: 'Re-engagement message', code: 131047, error_data: { details: 'more than 24 hours' } },
      },
    });
    await expect(sendOutbound(sendDeps, reply.id, { isLastAttempt: false })).rejects.toThrow(/131047/);
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'manual',
      errorCode: '131047',
    });
  });

  it('does not send free-form outside the 24-hour window: the message goes to the manual queue', async () => {
    const reply = await queuedReply();
    const row = await db.message.findUniqueOrThrow({ where: { id: reply.id } });
    await db.conversation.update({
      where: { id: row.conversationId },
      data: { lastInboundAt: new Date(Date.now() - 25 * 3600 * 1000) },
    });
    const requestsBefore = graph.requests.length;
    expect(await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })).toBeNull();
    expect(graph.requests.length).toBe(requestsBefore);
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'manual',
      errorCode: 'outside_24h_window',
    });
  });

  it('retries through the queue with backoff until the provider recovers, then sends once', async () => {
    const reply = await queuedReply();
    graph.next(
      { kind: 'fail', status: 500 },
      { kind: 'fail', status: 429, body: { error: { message: 'throughput', code: 130429 } } },
    );
    const worker = new Worker(sendQueue.name, sendProcessor(sendDeps), {
      connection: redis,
      prefix,
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === SEND_BACKOFF ? sendRetryDelay([50, 100, 200], attemptsMade) : 0,
      },
    });
    try {
      await new Producer(sendQueue, sendQ, { attempts: 4 }).add({ messageId: reply.id });
      const row = await waitFor('the reply to be sent', async () => {
        const m = await db.message.findUniqueOrThrow({ where: { id: reply.id } });
        return m.status === 'sent' ? m : null;
      });
      expect(row.sendAttempts).toBe(3);
      expect(graph.textsTo(reply.from)).toHaveLength(1);
    } finally {
      await worker.close();
    }
  });

  it('paces messages to one recipient by the pair rate, across two workers, without failing them', async () => {
    // The interval is well above the ~300 ms that keeping one contact's replies in order puts
    // between them on its own (a reply waits for the one before it to be sent), so the bounds
    // below fail when the limiter lets them through unpaced.
    const intervalMs = 1000;
    const paced = {
      ...sendDeps,
      limits: new SendLimits(new RateLimiter(redis, `${prefix}-pace`), {
        ...generousLimits,
        SEND_RATE_PER_RECIPIENT_INTERVAL_MS: intervalMs,
        SEND_RATE_PER_RECIPIENT_BURST: 2,
      }),
    };
    const workers = [1, 2].map(
      () => new Worker(sendQueue.name, sendProcessor(paced), { connection: redis, prefix, concurrency: 5 }),
    );
    try {
      const first = await queuedReply('1');
      const ids = [first.id];
      // More replies to the same contact: each a turn of its own, in order.
      for (let i = 2; i <= 4; i++) ids.push((await queuedReply(String(i), first.from)).id);
      await new Producer(sendQueue, sendQ, { attempts: 1 }).addBulk(ids.map((messageId) => ({ messageId })));
      await waitFor('four messages', () => graph.textsTo(first.from).length === 4, { timeoutMs: 15_000 });
      expect(graph.textsTo(first.from)).toEqual(['1', '2', '3', '4']);
      const times = graph.accepted.filter((a) => a.body.to === first.from).map((a) => a.at);
      // By Redis's clock the limiter admits two at once, then one per interval: no three within
      // an interval, and the fourth two intervals after the first. The stand-in stamps each when
      // it answers, a trip later, and on a loaded machine one trip can run ~100 ms longer than
      // another (CI saw 76), so each bound allows that once.
      const tripJitterMs = 150;
      for (let i = 2; i < times.length; i++) {
        expect(times[i]! - times[i - 2]!).toBeGreaterThanOrEqual(intervalMs - tripJitterMs);
      }
      expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(2 * intervalMs - tripJitterMs);
      // The stand-in counts a message when it answers; the worker records it right after.
      await waitFor(
        'all four recorded as sent',
        async () => (await db.message.count({ where: { id: { in: ids }, status: 'sent' } })) === 4,
      );
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await deleteKeys(`${prefix}-pace`);
    }
  });

  it("waits 4^n seconds after Meta's pair-rate error 131056", () => {
    const pairRate = new SendError('pair rate limit hit', '131056', true, 400);
    expect([1, 2, 3].map((n) => sendRetryDelay([60_000], n, pairRate, () => 0.5))).toEqual([1000, 4000, 16000]);
  });

  it('pauses the whole business number after 130429, without spending attempts', async () => {
    const paced = {
      ...sendDeps,
      limits: new SendLimits(new RateLimiter(redis, `${prefix}-130429`), generousLimits),
    };
    const first = await queuedReply('primeira');
    const second = await queuedReply('segunda');
    graph.next({ kind: 'fail', status: 400, body: { error: { message: 'Rate limit hit', code: 130429 } } });
    expect(await sendOutbound(paced, first.id, { isLastAttempt: false })).toEqual({ waitMs: 700 });
    expect(await db.message.findUniqueOrThrow({ where: { id: first.id } })).toMatchObject({
      status: 'queued',
      errorCode: '130429',
    });
    // Another recipient, same number: it waits too, without a request to Meta.
    const requests = graph.requests.length;
    const wait = await sendOutbound(paced, second.id, { isLastAttempt: false });
    expect(wait).toMatchObject({ waitMs: expect.any(Number) });
    expect(graph.requests.length).toBe(requests);
    await new Promise((r) => setTimeout(r, (wait as { waitMs: number }).waitMs + 20));
    expect(await sendOutbound(paced, second.id, { isLastAttempt: false })).toMatchObject({
      providerMessageId: expect.any(String),
    });
    await deleteKeys(`${prefix}-130429`);
  });

  it('adds jitter around each step of the retry schedule', () => {
    expect(sendRetryDelay([60_000, 120_000, 240_000], 1, undefined, () => 0)).toBe(48_000);
    expect(sendRetryDelay([60_000, 120_000, 240_000], 2, undefined, () => 1)).toBe(144_000);
    expect(sendRetryDelay([60_000, 120_000, 240_000], 3, undefined, () => 0.5)).toBe(240_000);
    expect(sendRetryDelay([60_000, 120_000, 240_000], 9, undefined, () => 0.5)).toBe(240_000);
  });
});

describe('delivery statuses', () => {
  it('applies a status to the message it names, and waits (retries) for one it does not know yet', async () => {
    const reply = await queuedReply();
    const sent = (await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })) as {
      providerMessageId: string;
    };
    const record = async (wamid: string, status: string) => {
      const [s] = extractEvents(
        fx.statusNotification({ wamid, status, recipientId: '5511900000000' } as never),
      ).statuses;
      const [row] = await recordInboxEvents(db, [
        {
          provider: 'cloud',
          kind: 'status',
          channelKey: s!.phoneNumberId,
          dedupeKey: `${wamid}|${status}`,
          payload: s,
        },
      ]);
      return row!.id;
    };
    await handleStatus(statusDeps, await record(sent!.providerMessageId, 'read'));
    await handleStatus(statusDeps, await record(sent!.providerMessageId, 'delivered'));
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'read',
    });
    await expect(handleStatus(statusDeps, await record('wamid.not-ours', 'delivered'))).rejects.toThrow(
      StatusTargetNotFound,
    );
  });
  async function failedStatus(wamid: string, code: number) {
    const [st] = extractEvents(
      fx.statusNotification({ wamid, status: 'failed', recipientId: '5511900000000', errors: [{ code }] } as never),
    ).statuses;
    const [row] = await recordInboxEvents(db, [
      { provider: 'cloud', kind: 'status', channelKey: st!.phoneNumberId, dedupeKey: `${wamid}|failed`, payload: st },
    ]);
    return row!.id;
  }

  it('sends again a message Meta reported failed for a passing reason', async () => {
    const reply = await queuedReply();
    const sent = (await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })) as { providerMessageId: string };
    await handleStatus(statusDeps, await failedStatus(sent.providerMessageId, 131000));
    expect((await db.message.findUniqueOrThrow({ where: { id: reply.id } })).status).toBe('queued');
    expect((await sendQ.getJob(`send-${reply.id}`))?.data).toEqual({ messageId: reply.id });
  });

  it('puts a message Meta could not deliver for good in the manual queue', async () => {
    const reply = await queuedReply();
    const sent = (await sendOutbound(sendDeps, reply.id, { isLastAttempt: false })) as { providerMessageId: string };
    await handleStatus(statusDeps, await failedStatus(sent.providerMessageId, 131026));
    expect(await db.message.findUniqueOrThrow({ where: { id: reply.id } })).toMatchObject({
      status: 'manual',
      errorCode: '131026',
    });
  });
});

describe('inbox jobs of several events (a webhook batch)', () => {
  const batchPrefix = `${prefix}-batch`;
  let batchQ: Queue;
  let worker: Worker;
  beforeAll(() => {
    batchQ = createQueue(inboxQueue, redis, batchPrefix);
    const deps = { db, turns: sweepDeps.turns, send: sweepDeps.send, fallback: statusDeps.fallback, logger };
    worker = new Worker(inboxQueue.name, inboxProcessor(deps), { connection: redis, prefix: batchPrefix });
  });
  afterAll(async () => {
    await worker.close();
    await batchQ.close();
    await deleteKeys(batchPrefix);
  });
  const storedOnce = async (wamid: string) => (await db.message.count({ where: { providerMessageId: wamid } })) === 1;
  async function recordStatusOfUnknownMessage() {
    const wamid = fx.fakeWamid();
    const [s] = extractEvents(fx.statusNotification({ wamid, status: 'delivered' } as never)).statuses;
    const [row] = await recordInboxEvents(db, [
      { provider: 'cloud', kind: 'status', channelKey: s!.phoneNumberId, dedupeKey: `${wamid}|delivered`, payload: s },
    ]);
    return { inboxEventId: row!.id, kind: 'status' as const };
  }
  const failed = async (jobId: string) => {
    await waitFor(`job ${jobId} failed`, async () => (await batchQ.getJob(jobId))?.finishedOn !== undefined);
    return (await batchQ.getJob(jobId))!;
  };

  async function recordUnreadable() {
    const [row] = await recordInboxEvents(db, [
      {
        provider: 'cloud',
        kind: 'message',
        channelKey: fx.DEFAULT_PHONE_NUMBER_ID,
        dedupeKey: fx.fakeWamid(),
        payload: {},
      },
    ]);
    return { inboxEventId: row!.id, kind: 'message' as const };
  }
  const unprocessed = async (id: string) =>
    (await db.inboxEvent.findUniqueOrThrow({ where: { id } })).processedAt === null;

  it('handles every event, then retries only those that can still succeed', async () => {
    // Two messages of one contact, a status that names no message of ours yet (retried), and an
    // unreadable event (never retried).
    const a = await receive('primeira');
    const b = await receive('segunda', a.from);
    const status = await recordStatusOfUnknownMessage();
    const unreadable = await recordUnreadable();
    const events = [
      { inboxEventId: a.inboxEventId, kind: 'message' as const },
      status,
      unreadable,
      { inboxEventId: b.inboxEventId, kind: 'message' as const },
    ];
    const job = await new Producer(inboxQueue, batchQ, { attempts: 2, backoff: { type: 'fixed', delay: 10 } }).add({
      events,
    });
    const done = await failed(job.id!);
    expect(await storedOnce(a.wamid)).toBe(true);
    expect(await storedOnce(b.wamid)).toBe(true);
    const [first, second] = await Promise.all(
      [a.wamid, b.wamid].map((wamid) => db.message.findFirstOrThrow({ where: { providerMessageId: wamid } })),
    );
    expect(second!.conversationId).toBe(first!.conversationId);
    // The first attempt narrowed the job to the status; the second ran it alone, with its own error.
    expect(done.data).toEqual(status);
    expect(done.attemptsMade).toBe(2);
    expect(done.failedReason).toMatch(/no outbound message with id/);
    expect(await unprocessed(unreadable.inboxEventId)).toBe(true);
  });

  it('fails for good, naming them, when only events that can never succeed are left', async () => {
    const good = await receive('legível');
    const bad = await recordUnreadable();
    const job = await new Producer(inboxQueue, batchQ, { attempts: 5 }).add({
      events: [{ inboxEventId: good.inboxEventId, kind: 'message' }, bad],
    });
    const done = await failed(job.id!);
    expect(await storedOnce(good.wamid)).toBe(true);
    expect(done.attemptsMade).toBe(1);
    expect(done.data).toEqual(bad);
    expect(done.failedReason).toContain(`1 of 2 inbox events failed (${bad.inboxEventId}: inbox event`);
    // Left unprocessed in the inbox: the sweeper queues it again, alone, where it fails visibly.
    expect(await unprocessed(bad.inboxEventId)).toBe(true);
  });

  it('stores the messages of a batch together and asks for one turn per conversation', async () => {
    const a1 = await receive('oi');
    const a2 = await receive('tudo bem?', a1.from);
    const b1 = await receive('olá');
    const unreadable = await recordUnreadable();
    const result = await handleInboundBatch(
      sweepDeps,
      [a1, a2, b1, unreadable].map((e) => e.inboxEventId),
    );
    // Settled by the batch statement itself, not left to the one-at-a-time path.
    expect(result.left).toEqual([]);
    expect([...result.failed.keys()]).toEqual([unreadable.inboxEventId]);
    expect(result.failed.get(unreadable.inboxEventId)).toBeInstanceOf(UnrecoverableError);
    const [oa1, oa2, ob1] = [a1, a2, b1].map((e) => result.done.get(e.inboxEventId)!);
    expect(oa2!.conversationId).toBe(oa1!.conversationId);
    expect(ob1!.conversationId).not.toBe(oa1!.conversationId);
    for (const o of [oa1, oa2, ob1]) expect(o!.isNew).toBe(true);
    const turnQ = createQueue(turnQueue, redis, prefix);
    try {
      const turnsOf = async (conversationId: string) =>
        (await turnQ.getJobs(['delayed', 'waiting'])).filter((j) => j.data.conversationId === conversationId);
      expect(await turnsOf(oa1!.conversationId)).toHaveLength(1);
      expect(await turnsOf(ob1!.conversationId)).toHaveLength(1);
    } finally {
      await turnQ.close();
    }
  });

  it('keeps reactions and system notices in the conversation, asking no turn for them, alone or in a batch', async () => {
    const from = `55119${String(++seq).padStart(8, '0')}`;
    const text = await receive('oi', from);
    const reaction = await receiveMessage(fx.reactionMessage({ from, messageId: fx.fakeWamid(), emoji: '👍' }));
    const removed = await receiveMessage(fx.reactionMessage({ from, messageId: fx.fakeWamid() }));
    const changed = await receiveMessage(fx.systemMessage({ from, newWaId: '5511900001111' }));
    const result = await handleInboundBatch(
      sweepDeps,
      [text, reaction, removed, changed].map((e) => e.inboxEventId),
    );
    expect(result.left).toEqual([]);
    // Alone, through the one-at-a-time statement, from a contact with nothing else to say.
    const other = `55119${String(++seq).padStart(8, '0')}`;
    const lone = await receiveMessage(fx.reactionMessage({ from: other, messageId: fx.fakeWamid(), emoji: '❤️' }));
    const loneOutcome = await handleInboundMessage(sweepDeps, lone.inboxEventId);
    expect(loneOutcome.isNew).toBe(true);

    const statusOf = async (wamid: string) =>
      (await db.message.findFirstOrThrow({ where: { providerMessageId: wamid } })).status;
    expect(await statusOf(text.wamid)).toBe('received');
    for (const e of [reaction, removed, changed, lone]) expect(await statusOf(e.wamid)).toBe('noted');
    const turnQ = createQueue(turnQueue, redis, prefix);
    try {
      const turnsOf = async (conversationId: string) =>
        (await turnQ.getJobs(['delayed', 'waiting'])).filter((j) => j.data.conversationId === conversationId);
      expect(await turnsOf(result.done.get(text.inboxEventId)!.conversationId)).toHaveLength(1);
      expect(await turnsOf(loneOutcome.conversationId)).toHaveLength(0);
    } finally {
      await turnQ.close();
    }
  });

  it('follows a contact to the number they changed to: their conversation, and a reply still queued', async () => {
    const [oldNumber, newNumber] = [nextNumber(), nextNumber()];
    const first = await handleInboundMessage(sweepDeps, (await receive('oi', oldNumber)).inboxEventId);
    const reply = await queuedReplyIn(first.conversationId);
    const changed = await receiveMessage(fx.systemMessage({ from: oldNumber, newWaId: newNumber }));
    // In one batch with the notice: the new number's first message, and one the old number sent
    // just before the change.
    const hello = await receive('sou eu', newNumber);
    const late = await receive('mais uma coisa', oldNumber);
    const batch = await handleInboundBatch(sweepDeps, [late.inboxEventId, hello.inboxEventId, changed.inboxEventId]);
    expect(batch.left).toEqual([]);
    for (const e of [late, hello, changed]) {
      expect(batch.done.get(e.inboxEventId)?.conversationId).toBe(first.conversationId);
    }
    // The new number's BSUID, not the old one the notice and the late message came with.
    expect((await db.contact.findUniqueOrThrow({ where: { waId: newNumber } })).userId).toBe(fx.fakeBsuid(newNumber));
    await sendOutbound(sendDeps, reply, { isLastAttempt: false });
    expect(graph.accepted.filter((a) => a.body.to === oldNumber)).toEqual([]);
    expect(graph.accepted.filter((a) => a.body.to === newNumber)).toHaveLength(1);

    // Handled again (a retry, alone): stored once, and no contact of the old number left behind.
    expect(await handleInboundMessage(sweepDeps, changed.inboxEventId)).toMatchObject({
      conversationId: first.conversationId,
      isNew: false,
    });
    expect(await db.contact.count({ where: { waId: oldNumber } })).toBe(0);

    // WhatsApp gives the old number to someone else: a conversation of their own, and the notice
    // handled once more moves nobody.
    const stranger = await handleInboundMessage(sweepDeps, (await receive('número novo', oldNumber)).inboxEventId);
    expect(stranger.conversationId).not.toBe(first.conversationId);
    await handleInboundMessage(sweepDeps, changed.inboxEventId);
    expect(await contactOf(first.conversationId)).toBe(newNumber);
    expect(await contactOf(stranger.conversationId)).toBe(oldNumber);
  });

  it('answers a user who hides their number behind a username in the conversation their number began', async () => {
    const phone = nextNumber();
    const first = await handleInboundMessage(sweepDeps, (await receive('oi', phone)).inboxEventId);
    // Meta withholds the number: `from_user_id` (the BSUID it sent beside the number) is all there is.
    const hidden = fx.textMessage({ from: phone, body: 'voltei' });
    delete hidden.from;
    const later = await handleInboundMessage(sweepDeps, (await receiveMessage(hidden)).inboxEventId);
    expect(later.conversationId).toBe(first.conversationId);
    await sendOutbound(sendDeps, await queuedReplyIn(first.conversationId), { isLastAttempt: false });
    expect(graph.accepted.filter((a) => a.body.to === phone)).toHaveLength(1);
    expect(await db.contact.count({ where: { waId: fx.fakeBsuid(phone) } })).toBe(0);
  });

  it("follows a username user's contact, known by number, to the BSUID a number change gives them", async () => {
    const [phone, newPhone] = [nextNumber(), nextNumber()];
    const first = await handleInboundMessage(sweepDeps, (await receive('oi', phone)).inboxEventId);
    // The notice without either number: the old BSUID in `from_user_id`, the new in `system.user_id`.
    const notice = fx.systemMessage({ from: phone, newWaId: newPhone });
    delete notice.from;
    delete (notice.system as Record<string, unknown>).wa_id;
    const changed = await handleInboundMessage(sweepDeps, (await receiveMessage(notice)).inboxEventId);
    expect(changed.conversationId).toBe(first.conversationId);
    const later = fx.textMessage({ from: newPhone, body: 'sou eu' });
    delete later.from;
    const hello = await handleInboundMessage(sweepDeps, (await receiveMessage(later)).inboxEventId);
    expect(hello.conversationId).toBe(first.conversationId);
    // Known by the new BSUID now: replies go there, and the old number is free for its next holder.
    expect(await contactOf(first.conversationId)).toBe(fx.fakeBsuid(newPhone));
    const stranger = fx.textMessage({ from: phone, body: 'número novo', fromUserId: 'BR.50000000000000000001' });
    const next = await handleInboundMessage(sweepDeps, (await receiveMessage(stranger)).inboxEventId);
    expect(next.conversationId).not.toBe(first.conversationId);
  });

  it('finds the contact of a message under the BSUID alone recorded by an older webhook, from its raw form', async () => {
    const phone = nextNumber();
    const first = await handleInboundMessage(sweepDeps, (await receive('oi', phone)).inboxEventId);
    const hidden = fx.textMessage({ from: phone, body: 'voltei' });
    delete hidden.from;
    // What a webhook from before `userId` recorded: the BSUID in the raw message only.
    const { userId: _, ...before } = extractEvents(fx.messagesNotification({ messages: [hidden] })).messages[0]!;
    const { inboxEventId } = await recordMessage(before);
    expect((await handleInboundMessage(sweepDeps, inboxEventId)).conversationId).toBe(first.conversationId);
  });

  it('records the new BSUID of a contact known by number, and finds them by it alone', async () => {
    const phone = nextNumber();
    const first = await handleInboundMessage(sweepDeps, (await receive('oi', phone)).inboxEventId);
    const notice = fx.systemMessage({ from: phone, newWaId: phone });
    const system = notice.system as Record<string, unknown>;
    Object.assign(system, { type: 'user_changed_user_id', user_id: 'BR.50000000000000000002' });
    delete system.wa_id;
    const changed = await handleInboundMessage(sweepDeps, (await receiveMessage(notice)).inboxEventId);
    expect(changed.conversationId).toBe(first.conversationId);
    const later = fx.textMessage({ from: phone, body: 'sou eu', fromUserId: 'BR.50000000000000000002' });
    delete later.from;
    const hello = await handleInboundMessage(sweepDeps, (await receiveMessage(later)).inboxEventId);
    expect(hello.conversationId).toBe(first.conversationId);
    expect(await contactOf(first.conversationId)).toBe(phone);
  });

  it('finds a contact known only by BSUID by the previous_user_id of a notice sent under the new one', async () => {
    const phone = nextNumber();
    const [oldBsuid, newBsuid] = [fx.fakeBsuid(phone), 'BR.50000000000000000003'];
    const hidden = fx.textMessage({ from: phone, body: 'oi' });
    delete hidden.from;
    const first = await handleInboundMessage(sweepDeps, (await receiveMessage(hidden)).inboxEventId);
    const notice = fx.systemMessage({ from: phone, newWaId: phone, fromUserId: newBsuid });
    delete notice.from;
    Object.assign(notice.system as Record<string, unknown>, {
      type: 'user_changed_user_id',
      wa_id: undefined,
      user_id: newBsuid,
      previous_user_id: oldBsuid,
    });
    // In one batch with it, a message sent under the old BSUID just before: it follows the move.
    const late = fx.textMessage({ from: phone, body: 'mais uma coisa' });
    delete late.from;
    const [lateEvent, changedEvent] = [await receiveMessage(late), await receiveMessage(notice)];
    const batch = await handleInboundBatch(sweepDeps, [lateEvent.inboxEventId, changedEvent.inboxEventId]);
    expect(batch.left).toEqual([]);
    for (const e of [lateEvent, changedEvent]) {
      expect(batch.done.get(e.inboxEventId)?.conversationId).toBe(first.conversationId);
    }
    expect(await contactOf(first.conversationId)).toBe(newBsuid);
    expect(await db.contact.count({ where: { waId: oldBsuid } })).toBe(0);
  });

  it('follows a contact known only by BSUID to the number a notice from that number names', async () => {
    const [phone, newPhone] = [nextNumber(), nextNumber()];
    const hidden = fx.textMessage({ from: phone, body: 'oi' });
    delete hidden.from;
    const first = await handleInboundMessage(sweepDeps, (await receiveMessage(hidden)).inboxEventId);
    expect(await contactOf(first.conversationId)).toBe(fx.fakeBsuid(phone));
    // The notice names the numbers: `from` the old one, which the contact was never known by. Its
    // `from_user_id` is what finds the contact (the previous_user_id that would too is left out).
    const notice = fx.systemMessage({ from: phone, newWaId: newPhone });
    delete (notice.system as Record<string, unknown>).previous_user_id;
    const changed = await receiveMessage(notice);
    expect((await handleInboundMessage(sweepDeps, changed.inboxEventId)).conversationId).toBe(first.conversationId);
    expect(await contactOf(first.conversationId)).toBe(newPhone);
  });

  it('keeps two contacts apart, the notice in the old conversation, when the new number wrote first', async () => {
    const [oldNumber, newNumber] = [nextNumber(), nextNumber()];
    const before = await handleInboundMessage(sweepDeps, (await receive('oi', oldNumber)).inboxEventId);
    const already = await handleInboundMessage(sweepDeps, (await receive('oi de novo', newNumber)).inboxEventId);
    const changed = await receiveMessage(fx.systemMessage({ from: oldNumber, newWaId: newNumber }));
    const notice = await handleInboundMessage(sweepDeps, changed.inboxEventId);
    expect(notice.conversationId).toBe(before.conversationId);
    expect(await contactOf(before.conversationId)).toBe(oldNumber);
    expect(await contactOf(already.conversationId)).toBe(newNumber);
  });

  it('moves nobody for a notice sent before the contact that has the old number now existed', async () => {
    const [oldNumber, newNumber] = [nextNumber(), nextNumber()];
    const holder = await handleInboundMessage(sweepDeps, (await receive('oi', oldNumber)).inboxEventId);
    const sentAt = new Date(Date.now() - 3 * 86_400_000);
    const changed = await receiveMessage(fx.systemMessage({ from: oldNumber, newWaId: newNumber, timestamp: sentAt }));
    const notice = await handleInboundMessage(sweepDeps, changed.inboxEventId);
    expect(await contactOf(holder.conversationId)).toBe(oldNumber);
    expect(notice.conversationId).not.toBe(holder.conversationId);
  });

  it('stores what the business sent from the WhatsApp Business app as its own, sent message, answering nothing', async () => {
    const to = `55119${String(++seq).padStart(8, '0')}`;
    const message = fx.textMessage({ from: to, body: 'Oi, aqui é a Ana da loja' });
    const echo = await recordExtracted(fx.messageEchoesNotification({ messages: [message] }));
    const outcome = await handleInboundMessage(sweepDeps, echo.inboxEventId);
    expect(outcome.isNew).toBe(true);
    expect(await db.message.findFirstOrThrow({ where: { providerMessageId: echo.wamid } })).toMatchObject({
      conversationId: outcome.conversationId,
      direction: 'outbound',
      status: 'sent',
      body: 'Oi, aqui é a Ana da loja',
    });
    const turnQ = createQueue(turnQueue, redis, prefix);
    try {
      const jobs = await turnQ.getJobs(['delayed', 'waiting', 'active']);
      expect(jobs.filter((j) => j.data.conversationId === outcome.conversationId)).toEqual([]);
    } finally {
      await turnQ.close();
    }
  });

  it("keeps what Meta Business Agent and the user say in the agent's conversation as history, answering nothing", async () => {
    const user = nextNumber();
    const delivery = fx.standbyNotification({
      messages: [fx.textMessage({ from: user, body: 'Vocês abrem amanhã?' })],
      replies: [{ to: user, body: 'Sim, das 9h às 18h.' }],
    });
    const ids = [];
    for (const extracted of extractEvents(delivery).messages) ids.push((await recordMessage(extracted)).inboxEventId);
    const batch = await handleInboundBatch(sweepDeps, ids);
    expect(batch.left).toEqual([]);
    const [asked, answered] = ids.map((id) => batch.done.get(id)!);
    expect(answered!.conversationId).toBe(asked!.conversationId);
    const stored = await db.message.findMany({
      where: { conversationId: asked!.conversationId },
      orderBy: { createdAt: 'asc' },
    });
    // One statement stores both: in the same millisecond, so in no particular order.
    expect(stored.map((m) => [m.direction, m.status, m.body]).sort()).toEqual([
      ['inbound', 'noted', 'Vocês abrem amanhã?'],
      ['outbound', 'sent', 'Sim, das 9h às 18h.'],
    ]);
    const turnQ = createQueue(turnQueue, redis, prefix);
    try {
      const jobs = await turnQ.getJobs(['delayed', 'waiting', 'active']);
      expect(jobs.filter((j) => j.data.conversationId === asked!.conversationId)).toEqual([]);
    } finally {
      await turnQ.close();
    }
  });

  it("returns a count for a batch, and a single event's outcome as before", async () => {
    const [one, two] = [await receive('uma'), await receive('duas')];
    const producer = new Producer(inboxQueue, batchQ);
    const batch = await producer.add({
      events: [one, two].map((r) => ({ inboxEventId: r.inboxEventId, kind: 'message' as const })),
    });
    const alone = await producer.add({ inboxEventId: (await receive('só')).inboxEventId, kind: 'message' });
    await waitFor('both jobs done', async () =>
      (await Promise.all([batch.id!, alone.id!].map((id) => batchQ.getJob(id)))).every((j) => j?.finishedOn),
    );
    expect((await batchQ.getJob(batch.id!))!.returnvalue).toEqual({ handled: 2 });
    expect((await batchQ.getJob(alone.id!))!.returnvalue).toMatchObject({ isNew: true });
  });
});

describe('the sweeper', () => {
  it('queues an inbox event that was recorded but never queued, once the grace period has passed', async () => {
    const { inboxEventId } = await receive('perdida');
    await db.inboxEvent.update({ where: { id: inboxEventId }, data: { receivedAt: new Date(Date.now() - 120_000) } });
    const result = await sweep(sweepDeps, { afterMs: 60_000 });
    expect(result.inboxRequeued).toBeGreaterThanOrEqual(1);
    expect(await inboxQ.getJob(`inbox-${inboxEventId}`)).toBeDefined();
    // A second sweep within the grace period queues nothing more.
    const again = await sweep(sweepDeps, { afterMs: 60_000 });
    expect(again.inboxExamined).toBe(0);
  });

  it('queues again an event whose job is left in no list (written to after a Redis flush)', async () => {
    const { inboxEventId } = await receive('órfã');
    await db.inboxEvent.update({ where: { id: inboxEventId }, data: { receivedAt: new Date(Date.now() - 120_000) } });
    const jobId = `inbox-${inboxEventId}`;
    await new Producer(inboxQueue, inboxQ).add({ inboxEventId, kind: 'message' });
    // The hash stays, its place in the queue is gone: what a flush mid-job leaves behind.
    await redis.lrem(`${prefix}:inbox:wait`, 0, jobId);
    expect(await (await inboxQ.getJob(jobId))!.getState()).toBe('unknown');
    await sweep(sweepDeps, { afterMs: 60_000 });
    expect(await (await inboxQ.getJob(jobId))!.getState()).toBe('waiting');
    expect((await db.inboxEvent.findUniqueOrThrow({ where: { id: inboxEventId } })).sweepCount).toBe(1);
  });

  it("asks again for a turn whose deduplication key names another conversation's job (ids reused after a flush)", async () => {
    const turnQ = createQueue(turnQueue, redis, prefix);
    const { conversationId, messageId } = await storeInboundMessage(db, {
      provider: 'cloud',
      channelExternalId: fx.DEFAULT_PHONE_NUMBER_ID,
      waId: `55119${String(++seq).padStart(8, '0')}`,
      providerMessageId: fx.fakeWamid(),
      type: 'text',
      body: 'ninguém me respondeu',
      payload: {},
      waTimestamp: new Date(),
    });
    await db.message.update({ where: { id: messageId }, data: { createdAt: new Date(Date.now() - 120_000) } });
    // After a flush the id counter restarts: the key written for this conversation now names a job
    // id that another conversation's turn took.
    const other = await turnQ.add('conversation-turn', { conversationId: randomUUID() });
    await redis.set(`${prefix}:turn:de:turn-${conversationId}`, other.id!);
    const turnsOf = async () =>
      (await turnQ.getJobs(['waiting', 'delayed', 'prioritized'])).filter(
        (j) => j.data.conversationId === conversationId,
      );
    await sweepDeps.turns.request(conversationId);
    expect(await turnsOf()).toHaveLength(0); // BullMQ folds it into the other conversation's job
    await sweep(sweepDeps, { afterMs: 60_000 });
    expect(await turnsOf()).toHaveLength(1);
    // A live turn of the conversation itself is left alone: a second sweep adds nothing more.
    await sweep(sweepDeps, { afterMs: 60_000 });
    expect(await turnsOf()).toHaveLength(1);
    await turnQ.close();
  });

  it('leaves recent events alone', async () => {
    const { inboxEventId } = await receive('recente');
    await sweep(sweepDeps, { afterMs: 60_000 });
    expect(await inboxQ.getJob(`inbox-${inboxEventId}`)).toBeUndefined();
  });
});
