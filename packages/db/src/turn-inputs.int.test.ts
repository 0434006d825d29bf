import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, type Db } from './client';
import { storeInboundMessage, type InboundMessageInput } from './conversation.repository';
import { recordInboxEvents } from './inbox.repository';
import { commitTurn, readTurnInputs } from './turn.repository';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 10 });
});
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

const CHANNEL = '106540352242777';
let contactSeq = 0;
const newWaId = () => `55117777${String(++contactSeq).padStart(5, '0')}`;
const t0 = Date.now() - 20_000;
const at = (ms: number) => new Date(t0 + ms);

const store = (waId: string, body: string, overrides: Partial<InboundMessageInput> = {}) =>
  storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: CHANNEL,
    waId,
    providerMessageId: `wamid.${randomUUID()}`,
    type: 'text',
    body,
    payload: {},
    waTimestamp: at(0),
    arrivedAt: at(0),
    ...overrides,
  });

/** An inbound message the webhook recorded but no worker has stored yet. */
const recordUnstored = (waId: string, receivedAt: Date) =>
  recordInboxEvents(db, [
    {
      provider: 'cloud',
      kind: 'message',
      channelKey: CHANNEL,
      dedupeKey: `wamid.${randomUUID()}`,
      sender: waId,
      payload: {},
    },
  ]).then(([row]) => db.inboxEvent.update({ where: { id: row!.id }, data: { receivedAt } }));

const nextMillisecond = () => new Promise((resolve) => setTimeout(resolve, 2));

const read = (conversationId: string) =>
  readTurnInputs(db, { conversationId, historyLimit: 3, unstoredWithinMs: 60_000 });

describe("a turn's inputs", () => {
  it('orders pending messages by WhatsApp time, arrival, then the order within a delivery', async () => {
    const waId = newWaId();
    // Stored in this order, sent (and received) in another. History is ordered by created_at, kept
    // to the millisecond: two stores within one would tie, so each waits for the next one.
    const third = await store(waId, 'três', { waTimestamp: at(2000), arrivedAt: at(2100) });
    await nextMillisecond();
    const second = await store(waId, 'dois', { waTimestamp: at(1000), arrivedAt: at(1100), arrivalSeq: 2n });
    await nextMillisecond();
    const first = await store(waId, 'um', { waTimestamp: at(1000), arrivedAt: at(1100), arrivalSeq: 1n });
    const inputs = await read(first.conversationId);
    expect(inputs.pending.map((m) => m.body)).toEqual(['um', 'dois', 'três']);
    expect(inputs).toMatchObject({ earlierUnstored: false, state: 'bot' });
    // History: the newest three (by when they were stored), oldest first.
    expect(inputs.history.map((m) => m.id)).toEqual([third.messageId, second.messageId, first.messageId]);
  });

  it("says when the contact's earlier message is recorded but not stored yet, and only the contact's", async () => {
    const waId = newWaId();
    const { conversationId } = await store(waId, 'depois', { arrivedAt: at(5000) });
    expect((await read(conversationId)).earlierUnstored).toBe(false);
    await recordUnstored(newWaId(), at(4000)); // someone else's
    await recordUnstored(waId, at(6000)); // the contact's, but later than what is pending
    expect((await read(conversationId)).earlierUnstored).toBe(false);
    await recordUnstored(waId, at(4000));
    expect((await read(conversationId)).earlierUnstored).toBe(true);
  });

  it('sees an earlier message recorded under the BSUID alone of a contact known by number', async () => {
    const [waId, bsuid] = [newWaId(), `BR.${Date.now()}77`];
    const { conversationId } = await store(waId, 'depois', { arrivedAt: at(5000), userId: bsuid });
    await recordUnstored(bsuid, at(4000));
    expect((await read(conversationId)).earlierUnstored).toBe(true);
  });

  it('gives each of many turns read at once its own conversation, even one with nothing to read', async () => {
    const stored = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const waId = newWaId();
        return { body: `mensagem ${i}`, ...(await store(waId, `mensagem ${i}`)) };
      }),
    );
    // A conversation whose only message was answered: history left, nothing pending.
    const answered = stored[0]!;
    await commitTurn(db, {
      conversationId: answered.conversationId,
      channelId: answered.channelId,
      fence: 1,
      inputMessageIds: [answered.messageId],
      input: [],
      result: { engine: 'local', status: 'done', replies: [], latencyMs: 1 },
      failedTurns: 0,
    });
    const all = await Promise.all([...stored.map((s) => read(s.conversationId)), read(randomUUID())]);
    expect(all[0]).toMatchObject({ pending: [], history: [{ id: answered.messageId }] });
    for (const [i, s] of stored.entries()) {
      if (i > 0) expect(all[i]!.pending.map((m) => m.body)).toEqual([s.body]);
    }
    expect(all[12]).toEqual({ pending: [], history: [], earlierUnstored: false, state: 'bot' });
  });
});
