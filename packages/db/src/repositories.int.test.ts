import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, query, sql, type Db } from './client';
import { claimStaleInboxEvents, countSweeps, markInboxProcessed, recordInboxEvents } from './inbox.repository';
import { storeInboundMessage } from './conversation.repository';
import { commitTurn, type TurnCommit } from './turn.repository';
import { applyDeliveryStatus, claimForSending, markSent } from './outbound.repository';
import { migrate } from './migrate';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 20 });
});
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

const inbound = (overrides: Partial<Parameters<typeof storeInboundMessage>[1]> = {}) => ({
  provider: 'cloud',
  channelExternalId: '106540352242922',
  waId: '5511999990001',
  profileName: 'Ana',
  providerMessageId: `wamid.${randomUUID()}`,
  type: 'text',
  body: 'oi',
  payload: { text: { body: 'oi' } },
  waTimestamp: new Date(),
  ...overrides,
});

const turnResult = {
  engine: 'local',
  status: 'done' as const,
  replies: [{ type: 'text' as const, body: 'Olá!' }],
  latencyMs: 3,
};
let fence = 0;
/** A turn commit with the next fencing token, as a lock holder would make it. */
const commitFor = (
  conversationId: string,
  channelId: string,
  inputMessageIds: string[],
  overrides: Partial<TurnCommit> = {},
) => ({
  conversationId,
  channelId,
  fence: ++fence,
  inputMessageIds,
  input: [],
  result: turnResult,
  failedTurns: 0,
  ...overrides,
});
/** The committed turn, failing the test if it was rejected. */
function accepted<T extends object>(result: T): Exclude<T, { rejected: unknown }> {
  if ('rejected' in result) throw new Error(`turn rejected: ${String(result.rejected)}`);
  return result as Exclude<T, { rejected: unknown }>;
}

describe('migrations', () => {
  it('re-running db:migrate on a migrated database applies nothing', async () => {
    expect(await migrate(database.url)).toEqual({ createdDatabase: false, applied: [] });
  });

  it('creates the database when it is missing, then migrates it', async () => {
    const url = new URL(database.url);
    url.pathname = `/${database.name}_fresh`;
    try {
      const result = await migrate(url.toString());
      expect(result.createdDatabase).toBe(true);
      expect(result.applied.length).toBeGreaterThan(0);
    } finally {
      const admin = new Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${database.name}_fresh" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('the client', () => {
  it('ends its pool on $disconnect even when only query() used it', async () => {
    const own = createDb({ url: database.url, poolSize: 1 });
    expect((await query<{ one: number }>(own, sql`SELECT ${1}::int AS one`)).rows).toEqual([{ one: 1 }]);
    await own.$disconnect();
    await expect(query(own, sql`SELECT 1`)).rejects.toThrow(/after calling end/);
  });
});

describe('inbox', () => {
  const event = (payload: unknown, kind: 'message' | 'status' = 'message') => ({
    provider: 'cloud',
    kind,
    channelKey: 'pn-1',
    dedupeKey: `wamid.${randomUUID()}`,
    payload,
  });

  it('stores characters jsonb refuses (NUL, a lone surrogate) as U+FFFD, without failing the rest of its batch', async () => {
    const odd = { text: { body: 'a\u0000b \ud83d c \ude00 😀' }, ['k\u0000']: ['\udfff'] };
    // A literal backslash and "u0000" is text, not a NUL: kept as it is.
    const plain = { text: { body: 'C:\\u0000\\ud83d' } };
    const recorded = await recordInboxEvents(db, [event(odd), event(plain)]);
    expect(recorded).toHaveLength(2);
    const rows = await db.inboxEvent.findMany({ where: { id: { in: recorded.map((r) => r.id) } } });
    expect(rows.map((r) => r.payload)).toEqual(
      expect.arrayContaining([
        { text: { body: 'a\uFFFDb \uFFFD c \uFFFD 😀' }, ['k\uFFFD']: ['\uFFFD'] },
        { text: { body: 'C:\\u0000\\ud83d' } },
      ]),
    );
  });

  it('stores a payload of JSON null without failing the rest of its batch', async () => {
    const recorded = await recordInboxEvents(db, [event(null, 'status'), event({ a: 1 }, 'status')]);
    expect(recorded).toHaveLength(2);
    const rows = await db.inboxEvent.findMany({ where: { id: { in: recorded.map((r) => r.id) } } });
    expect(rows.map((r) => r.payload).sort()).toEqual([{ a: 1 }, null]);
  });

  it('returns only new events, so a duplicate delivery is never queued twice', async () => {
    const event = {
      provider: 'cloud',
      kind: 'message' as const,
      channelKey: 'pn-1',
      dedupeKey: `wamid.${randomUUID()}`,
      payload: { a: 1 },
    };
    const first = await recordInboxEvents(db, [event]);
    const again = await recordInboxEvents(db, [event, { ...event, dedupeKey: `wamid.${randomUUID()}` }]);
    expect(first).toHaveLength(1);
    expect(again).toHaveLength(1);
    expect(again[0]!.dedupeKey).not.toBe(event.dedupeKey);
  });

  it('lets exactly one of 50 concurrent recordings of one message win', async () => {
    const event = {
      provider: 'cloud',
      kind: 'message' as const,
      channelKey: 'pn-1',
      dedupeKey: `wamid.${randomUUID()}`,
      payload: {},
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => recordInboxEvents(db, [event])));
    expect(results.flat()).toHaveLength(1);
  });

  it('stores the payload as JSON, including unicode', async () => {
    const [row] = await recordInboxEvents(db, [
      {
        provider: 'cloud',
        kind: 'message',
        channelKey: 'pn-1',
        dedupeKey: `wamid.${randomUUID()}`,
        payload: { text: 'olá 🚗 "aspas"' },
      },
    ]);
    const stored = await db.inboxEvent.findUniqueOrThrow({ where: { id: row!.id } });
    expect(stored.payload).toEqual({ text: 'olá 🚗 "aspas"' });
  });

  it('hands stale unprocessed events to one sweeper at a time, up to the sweep limit', async () => {
    const [row] = await recordInboxEvents(db, [
      { provider: 'cloud', kind: 'message', channelKey: 'pn-sweep', dedupeKey: `wamid.${randomUUID()}`, payload: {} },
    ]);
    await db.inboxEvent.update({ where: { id: row!.id }, data: { receivedAt: new Date(Date.now() - 60_000) } });
    const [a, b] = await Promise.all([
      claimStaleInboxEvents(db, { olderThanMs: 1000, limit: 100, maxSweeps: 2 }),
      claimStaleInboxEvents(db, { olderThanMs: 1000, limit: 100, maxSweeps: 2 }),
    ]);
    expect([...a, ...b].filter((e) => e.id === row!.id)).toHaveLength(1);
    // Swept just now: not again until another grace period has passed.
    const sweep = () => claimStaleInboxEvents(db, { olderThanMs: 1000, limit: 100, maxSweeps: 2 });
    const graceLater = () =>
      db.inboxEvent.update({ where: { id: row!.id }, data: { lastSweptAt: new Date(Date.now() - 60_000) } });
    expect((await sweep()).map((e) => e.id)).not.toContain(row!.id);
    // Looking at an event whose job is still fine costs nothing against the limit...
    await graceLater();
    expect((await sweep()).map((e) => e.id)).toContain(row!.id);
    await graceLater();
    expect((await sweep()).map((e) => e.id)).toContain(row!.id);
    // ...only re-queues count: after two, the event is left alone.
    await countSweeps(db, [row!.id]);
    await countSweeps(db, [row!.id]);
    await graceLater();
    expect((await sweep()).map((e) => e.id)).not.toContain(row!.id);
    await markInboxProcessed(db, row!.id);
  });
});

describe('conversations and messages', () => {
  it('creates channel, contact and conversation once, and stores a repeated message once', async () => {
    const input = inbound({ waId: '5511999990002' });
    const first = await storeInboundMessage(db, input);
    const second = await storeInboundMessage(db, input);
    expect(first.isNew).toBe(true);
    expect(second.isNew).toBe(false);
    expect(second.messageId).toBe(first.messageId);
    const other = await storeInboundMessage(db, inbound({ waId: '5511999990002' }));
    expect(other.conversationId).toBe(first.conversationId);
    expect(await db.message.count({ where: { conversationId: first.conversationId } })).toBe(2);
  });

  it('marks the inbox event processed with the message, and says what still waits for a turn', async () => {
    const waId = '5511999990006';
    const [event] = await recordInboxEvents(db, [
      { provider: 'cloud', kind: 'message', channelKey: 'pn', dedupeKey: `wamid.${randomUUID()}`, payload: {} },
    ]);
    const arrivedAt = new Date(Date.now() - 5000);
    const first = await storeInboundMessage(db, { ...inbound({ waId }), arrivedAt, inboxEventId: event!.id });
    expect(first).toMatchObject({ isNew: true, pending: true, oldestPendingAt: arrivedAt });
    expect((await db.inboxEvent.findUniqueOrThrow({ where: { id: event!.id } })).processedAt).not.toBeNull();
    // A later message of the same conversation: the oldest pending is still the first one.
    const later = await storeInboundMessage(db, inbound({ waId }));
    expect(later).toMatchObject({ conversationId: first.conversationId, pending: true, oldestPendingAt: arrivedAt });
    // Once answered, storing it again (a retried job) asks for nothing.
    await commitTurn(db, commitFor(first.conversationId, first.channelId, [first.messageId, later.messageId]));
    const again = await storeInboundMessage(db, {
      ...inbound({ waId }),
      providerMessageId: (await db.message.findUniqueOrThrow({ where: { id: first.messageId } })).providerMessageId!,
    });
    expect(again).toMatchObject({ messageId: first.messageId, isNew: false, pending: false, oldestPendingAt: null });
  });

  it('takes the profile name from a new message only, never from a redelivered old one', async () => {
    const waId = '5511999990007';
    const old = inbound({ waId, profileName: 'Ana' });
    await storeInboundMessage(db, old);
    await storeInboundMessage(db, inbound({ waId, profileName: 'Ana Souza' }));
    await storeInboundMessage(db, old); // the old one again: a retried job or a sweep
    expect((await db.contact.findUniqueOrThrow({ where: { waId } })).profileName).toBe('Ana Souza');
  });

  it('stores a reply once even when two attempts commit the same turn at once', async () => {
    const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId: '5511999990003' }));
    const attempt = () => commitTurn(db, commitFor(conversationId, channelId, [messageId]));
    const results = await Promise.all([attempt(), attempt(), attempt()]);
    expect(results.filter((r) => !('rejected' in r))).toHaveLength(1);
    const { turnId } = await db.message.findUniqueOrThrow({ where: { id: messageId } });
    const replies = await db.message.findMany({ where: { turnId, direction: 'outbound' } });
    expect(replies?.map((r) => r.body)).toEqual(['Olá!']);
    expect(await db.turn.count({ where: { conversationId } })).toBe(1);
  });

  it('numbers turns of a conversation 1, 2, 3', async () => {
    const waId = '5511999990004';
    for (let i = 0; i < 3; i++) {
      const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId }));
      await commitTurn(db, commitFor(conversationId, channelId, [messageId]));
    }
    const contact = await db.contact.findUniqueOrThrow({
      where: { waId },
      include: { conversations: { include: { turns: true } } },
    });
    expect(contact.conversations[0]!.turns.map((t) => t.seq).sort()).toEqual([1, 2, 3]);
  });
});

describe('delivery statuses', () => {
  async function sentMessage() {
    const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId: '5511999990005' }));
    const committed = await commitTurn(db, commitFor(conversationId, channelId, [messageId]));
    const reply = accepted(committed).outbound[0]!;
    const wamid = `wamid.out.${randomUUID()}`;
    expect(await claimForSending(db, reply.id, 30_000)).toBe(true);
    await markSent(db, reply.id, wamid);
    return { channelId, id: reply.id, wamid };
  }

  it('moves forward and never back: read then a late delivered stays read', async () => {
    const m = await sentMessage();
    const t = (s: number) => new Date(Date.UTC(2026, 10, 24, 12, 0, s));
    await applyDeliveryStatus(db, { channelId: m.channelId, providerMessageId: m.wamid, status: 'read', at: t(5) });
    await applyDeliveryStatus(db, {
      channelId: m.channelId,
      providerMessageId: m.wamid,
      status: 'delivered',
      at: t(3),
    });
    const row = await db.message.findUniqueOrThrow({ where: { id: m.id } });
    expect(row.status).toBe('read');
    expect(row.readAt).toEqual(t(5));
    expect(row.deliveredAt).toEqual(t(3));
  });

  it('keeps the first time a repeated status was seen', async () => {
    const m = await sentMessage();
    await applyDeliveryStatus(db, {
      channelId: m.channelId,
      providerMessageId: m.wamid,
      status: 'delivered',
      at: new Date(1000),
    });
    await applyDeliveryStatus(db, {
      channelId: m.channelId,
      providerMessageId: m.wamid,
      status: 'delivered',
      at: new Date(9000),
    });
    expect((await db.message.findUniqueOrThrow({ where: { id: m.id } })).deliveredAt).toEqual(new Date(1000));
  });

  it('records a failure with its code unless the message was already delivered', async () => {
    const m = await sentMessage();
    await applyDeliveryStatus(db, {
      channelId: m.channelId,
      providerMessageId: m.wamid,
      status: 'failed',
      at: new Date(),
      error: { code: '131026', message: 'Message undeliverable' },
    });
    expect(await db.message.findUniqueOrThrow({ where: { id: m.id } })).toMatchObject({
      status: 'failed',
      errorCode: '131026',
    });

    const delivered = await sentMessage();
    await applyDeliveryStatus(db, {
      channelId: delivered.channelId,
      providerMessageId: delivered.wamid,
      status: 'delivered',
      at: new Date(),
    });
    await applyDeliveryStatus(db, {
      channelId: delivered.channelId,
      providerMessageId: delivered.wamid,
      status: 'failed',
      at: new Date(),
    });
    expect((await db.message.findUniqueOrThrow({ where: { id: delivered.id } })).status).toBe('delivered');
  });

  it('says so when no outbound message has the wamid', async () => {
    const m = await sentMessage();
    expect(
      await applyDeliveryStatus(db, {
        channelId: m.channelId,
        providerMessageId: 'wamid.unknown',
        status: 'read',
        at: new Date(),
      }),
    ).toBe(false);
  });

  it('never sends a message twice once it is sent', async () => {
    const m = await sentMessage();
    expect(await claimForSending(db, m.id, 30_000)).toBe(false);
  });
});

describe('concurrent first messages', () => {
  it('creates one channel, contact and conversation when a new contact sends 20 messages at once', async () => {
    const waId = '5511999990099';
    const channelExternalId = `pn-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => storeInboundMessage(db, inbound({ waId, channelExternalId }))),
    );
    expect(new Set(results.map((r) => r.conversationId)).size).toBe(1);
    expect(await db.channel.count({ where: { externalId: channelExternalId } })).toBe(1);
    expect(await db.message.count({ where: { conversationId: results[0]!.conversationId } })).toBe(20);
  });
});

describe('turn fencing', () => {
  it('refuses a commit whose fencing token is not above the last committed one', async () => {
    const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId: '5511999990030' }));
    const newer = commitFor(conversationId, channelId, [messageId]);
    const stale = { ...newer, fence: newer.fence - 1000 };
    accepted(await commitTurn(db, newer));
    const second = await storeInboundMessage(db, inbound({ waId: '5511999990030' }));
    expect(await commitTurn(db, { ...stale, inputMessageIds: [second.messageId] })).toEqual({
      rejected: 'stale_fence',
    });
    expect((await db.message.findUniqueOrThrow({ where: { id: second.messageId } })).turnId).toBeNull();
  });

  it('writes nothing when another turn answered one of the inputs, or committed since this one read', async () => {
    const waId = '5511999990032';
    const a = await storeInboundMessage(db, inbound({ waId }));
    const b = await storeInboundMessage(db, inbound({ waId }));
    accepted(await commitTurn(db, commitFor(a.conversationId, a.channelId, [a.messageId])));
    const seenFence = Number((await db.conversation.findUniqueOrThrow({ where: { id: a.conversationId } })).turnFence);
    const both = commitFor(a.conversationId, a.channelId, [a.messageId, b.messageId], {
      handoff: { reason: 'contact_asked', channels: ['email'] },
      optedOut: true,
    });
    expect(await commitTurn(db, both)).toEqual({ rejected: 'inputs_taken' });
    // A turn that read the conversation before the last commit is refused, whatever its token.
    expect(
      await commitTurn(db, commitFor(a.conversationId, a.channelId, [b.messageId], { seenFence: seenFence - 1 })),
    ).toEqual({ rejected: 'stale_fence' });
    expect((await db.message.findUniqueOrThrow({ where: { id: b.messageId } })).turnId).toBeNull();
    expect(await db.turn.count({ where: { conversationId: a.conversationId } })).toBe(1);
    expect(await db.handoff.count({ where: { conversationId: a.conversationId } })).toBe(0);
    expect(await db.contact.findUniqueOrThrow({ where: { waId } })).toMatchObject({ optedOutAt: null });
    const conversation = await db.conversation.findUniqueOrThrow({ where: { id: a.conversationId } });
    expect({ state: conversation.state, turnFence: Number(conversation.turnFence) }).toEqual({
      state: 'bot',
      turnFence: seenFence,
    });
    // The turn that read the current token commits.
    const next = accepted(await commitTurn(db, commitFor(a.conversationId, a.channelId, [b.messageId], { seenFence })));
    expect(next.turn.seq).toBe(2);
  });

  it('refuses a commit whose turn number another commit took while it waited for the row', async () => {
    const a = await storeInboundMessage(db, inbound({ waId: '5511999990034' }));
    const b = await storeInboundMessage(db, inbound({ waId: '5511999990034' }));
    // Another turn holds the conversation row and writes turn 1, and commits only after our
    // statement has taken its snapshot and is waiting for the row.
    const other = new Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE conversations SET turn_fence = turn_fence + 1 WHERE id = $1', [a.conversationId]);
      await other.query(
        `INSERT INTO turns (conversation_id, seq, fence, status, engine, output) VALUES ($1, 1, 1, 'done', 'local', '[]')`,
        [a.conversationId],
      );
      // A fence far above the other turn's: only the turn number can stop this commit.
      const ours = commitTurn(db, commitFor(a.conversationId, a.channelId, [b.messageId], { fence: 1_000_000 }));
      await new Promise((r) => setTimeout(r, 300)); // ours is blocked on the row lock by now
      await other.query('COMMIT');
      expect(await ours).toEqual({ rejected: 'stale_fence' });
    } finally {
      await other.end();
    }
    expect((await db.message.findUniqueOrThrow({ where: { id: b.messageId } })).turnId).toBeNull();
  });

  it('writes nothing when a person took the conversation before the commit', async () => {
    const a = await storeInboundMessage(db, inbound({ waId: '5511999990033' }));
    await db.conversation.update({ where: { id: a.conversationId }, data: { state: 'human' } });
    expect(await commitTurn(db, commitFor(a.conversationId, a.channelId, [a.messageId]))).toEqual({
      rejected: 'stale_fence',
    });
    expect(await db.turn.count({ where: { conversationId: a.conversationId } })).toBe(0);
  });

  it('stores the handoff, its notification rows and the human state with the turn', async () => {
    const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId: '5511999990031' }));
    const committed = accepted(
      await commitTurn(
        db,
        commitFor(conversationId, channelId, [messageId], {
          handoff: { reason: 'contact_asked', channels: ['email', 'crm'] },
          context: { stage: 'human' },
        }),
      ),
    );
    expect(committed.handoff?.notifications.map((n) => n.channel).sort()).toEqual(['crm', 'email']);
    expect(await db.conversation.findUniqueOrThrow({ where: { id: conversationId } })).toMatchObject({
      state: 'human',
      context: { stage: 'human' },
    });
  });
});

describe("the business's own messages", () => {
  it('stores a fromMe message as an outbound message already sent, outside any turn', async () => {
    const stored = await storeInboundMessage(db, { ...inbound({ waId: '5511999990040' }), fromMe: true });
    expect(stored.pending).toBe(false);
    expect(await db.message.findUniqueOrThrow({ where: { id: stored.messageId } })).toMatchObject({
      direction: 'outbound',
      status: 'sent',
      turnId: null,
    });
  });

  it('keeps our own message when its echo was stored before we recorded the send', async () => {
    const { conversationId, messageId, channelId } = await storeInboundMessage(db, inbound({ waId: '5511999990041' }));
    const reply = accepted(await commitTurn(db, commitFor(conversationId, channelId, [messageId]))).outbound[0]!;
    await claimForSending(db, reply.id, 30_000);
    const wamid = `evolution-${randomUUID()}`;
    await storeInboundMessage(db, { ...inbound({ waId: '5511999990041' }), providerMessageId: wamid, fromMe: true });
    await markSent(db, reply.id, wamid);
    expect(
      await db.message.findMany({ where: { providerMessageId: wamid }, select: { id: true, status: true } }),
    ).toEqual([{ id: reply.id, status: 'sent' }]);
  });
});

describe('concurrent statuses', () => {
  it('ends at the furthest status whatever order concurrent statuses are applied in', async () => {
    for (let round = 0; round < 5; round++) {
      const { conversationId, messageId, channelId } = await storeInboundMessage(
        db,
        inbound({ waId: `55119999902${round}` }),
      );
      const committed = await commitTurn(db, commitFor(conversationId, channelId, [messageId]));
      const reply = accepted(committed).outbound[0]!;
      const wamid = `wamid.race.${randomUUID()}`;
      await claimForSending(db, reply.id, 30_000);
      await markSent(db, reply.id, wamid);
      await Promise.all(
        (['read', 'sent', 'delivered', 'read', 'delivered'] as const).map((status) =>
          applyDeliveryStatus(db, { channelId, providerMessageId: wamid, status, at: new Date() }),
        ),
      );
      expect((await db.message.findUniqueOrThrow({ where: { id: reply.id } })).status).toBe('read');
    }
  });
});
