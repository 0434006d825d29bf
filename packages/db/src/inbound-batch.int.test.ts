import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, type Db } from './client';
import { storeInboundMessage } from './conversation.repository';
import { storeInboundMessages, type InboundBatchInput } from './inbound-batch.repository';
import { recordInboxEvents } from './inbox.repository';
import { commitTurn } from './turn.repository';

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

let contactSeq = 0;
const newWaId = () => `55119888${String(++contactSeq).padStart(5, '0')}`;

/** An inbound message with its recorded inbox event, as the worker builds it. */
async function inbound(waId: string, overrides: Partial<InboundBatchInput> = {}): Promise<InboundBatchInput> {
  const providerMessageId = overrides.providerMessageId ?? `wamid.${randomUUID()}`;
  const [event] = await recordInboxEvents(db, [
    {
      provider: 'cloud',
      kind: 'message',
      channelKey: 'pn-batch',
      dedupeKey: `${providerMessageId}|${randomUUID()}`,
      payload: {},
    },
  ]);
  return {
    inboxEventId: event!.id,
    provider: 'cloud',
    channelExternalId: '106540352242999',
    waId,
    profileName: 'Ana',
    providerMessageId,
    type: 'text',
    body: 'oi',
    payload: { text: { body: 'oi' } },
    waTimestamp: new Date(),
    arrivedAt: new Date(),
    arrivalSeq: 1n,
    ...overrides,
  };
}

const processed = async (inboxEventId: string) =>
  (await db.inboxEvent.findUniqueOrThrow({ where: { id: inboxEventId } })).processedAt !== null;

describe('storing a batch of inbound messages in one statement', () => {
  it('settles each message as storing it alone would', async () => {
    const t0 = new Date(Date.now() - 60_000);
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    // A new contact writing twice in the batch, under two names.
    const x = newWaId();
    const x1 = await inbound(x, { arrivedAt: at(10), waTimestamp: at(9), profileName: 'Ana' });
    const x2 = await inbound(x, { arrivedAt: at(11), waTimestamp: at(11), profileName: 'Ana Souza' });
    // A contact whose earlier message still waits for a turn.
    const y = newWaId();
    const waiting = await storeInboundMessage(db, await inbound(y, { arrivedAt: at(1) }));
    const y1 = await inbound(y, { arrivedAt: at(12) });
    // A redelivery of a message already answered.
    const z = newWaId();
    const answeredInput = await inbound(z, { arrivedAt: at(2) });
    const answered = await storeInboundMessage(db, answeredInput);
    await commitTurn(db, {
      conversationId: answered.conversationId,
      channelId: answered.channelId,
      fence: 1,
      inputMessageIds: [answered.messageId],
      input: [],
      result: { engine: 'local', status: 'done', replies: [{ type: 'text', body: 'Olá!' }], latencyMs: 1 },
      failedTurns: 0,
    });
    const redelivered = await inbound(z, { providerMessageId: answeredInput.providerMessageId, arrivedAt: at(13) });
    // The business's own message, sent from its phone.
    const own = await inbound(newWaId(), { fromMe: true, arrivedAt: at(14) });
    // The same provider message twice in one batch.
    const twice = await inbound(x, { providerMessageId: x1.providerMessageId });

    const [rx1, rx2, ry1, rRedelivered, rOwn, rTwice] = await storeInboundMessages(db, [
      x1,
      x2,
      y1,
      redelivered,
      own,
      twice,
    ]);

    expect(rx1).toMatchObject({ isNew: true, pending: true, oldestPendingAt: at(10) });
    expect(rx2).toMatchObject({ isNew: true, pending: true, oldestPendingAt: at(10) });
    expect(rx2!.conversationId).toBe(rx1!.conversationId);
    expect(ry1).toMatchObject({
      conversationId: waiting.conversationId,
      isNew: true,
      pending: true,
      oldestPendingAt: at(1),
    });
    expect(rRedelivered).toEqual({
      messageId: answered.messageId,
      conversationId: answered.conversationId,
      channelId: answered.channelId,
      isNew: false,
      pending: false,
      oldestPendingAt: null,
    });
    expect(rOwn).toMatchObject({ isNew: true, pending: false });
    // Left to the one-at-a-time path, which finds it stored: a redelivery.
    expect(rTwice).toBeUndefined();
    expect(await processed(twice.inboxEventId)).toBe(false);
    expect(await storeInboundMessage(db, twice)).toMatchObject({ messageId: rx1!.messageId, isNew: false });

    for (const e of [x1, x2, y1, redelivered, own]) expect(await processed(e.inboxEventId)).toBe(true);
    expect((await db.contact.findUniqueOrThrow({ where: { waId: x } })).profileName).toBe('Ana Souza');
    expect(await db.conversation.findUniqueOrThrow({ where: { id: rx1!.conversationId } })).toMatchObject({
      lastInboundAt: at(11),
    });
    expect(await db.conversation.findUniqueOrThrow({ where: { id: ry1!.conversationId } })).toMatchObject({
      lastInboundAt: y1.waTimestamp,
    });
    expect(await db.message.findUniqueOrThrow({ where: { id: rOwn!.messageId } })).toMatchObject({
      direction: 'outbound',
      status: 'sent',
      sentAt: own.waTimestamp,
    });
    expect(await db.message.findUniqueOrThrow({ where: { id: rx2!.messageId } })).toMatchObject({
      direction: 'inbound',
      status: 'received',
      arrivalSeq: 1n,
      body: 'oi',
    });
  });

  it('renames an existing contact after its newest new message only', async () => {
    const waId = newWaId();
    const first = await inbound(waId, { profileName: 'Bia' });
    await storeInboundMessage(db, first);
    const renamed = await inbound(waId, { profileName: 'Beatriz', waTimestamp: new Date(Date.now() + 1000) });
    const older = await inbound(waId, { profileName: 'Bia B.', waTimestamp: new Date(Date.now() - 1000) });
    // A redelivered message carries an old name that must not come back.
    const redelivered = { ...first, profileName: 'Bia antiga', inboxEventId: (await inbound(waId)).inboxEventId };
    await storeInboundMessages(db, [renamed, older, redelivered]);
    expect((await db.contact.findUniqueOrThrow({ where: { waId } })).profileName).toBe('Beatriz');
  });

  it("names a new contact from its newest message that has a name, and opens the window with the contact's own", async () => {
    const waId = newWaId();
    const t = Date.now() - 30_000;
    const named = await inbound(waId, { profileName: 'Ana', waTimestamp: new Date(t) });
    const unnamed = await inbound(waId, { profileName: undefined, waTimestamp: new Date(t + 1000) });
    // The business answered from its own phone, later still: that opens no window.
    const own = await inbound(waId, { fromMe: true, profileName: undefined, waTimestamp: new Date(t + 2000) });
    const [first] = await storeInboundMessages(db, [named, unnamed, own]);
    expect((await db.contact.findUniqueOrThrow({ where: { waId } })).profileName).toBe('Ana');
    expect(await db.conversation.findUniqueOrThrow({ where: { id: first!.conversationId } })).toMatchObject({
      lastInboundAt: new Date(t + 1000),
    });
  });

  it('opens no window for a conversation the business started, alone or in a batch', async () => {
    const alone = await storeInboundMessage(db, await inbound(newWaId(), { fromMe: true }));
    const [batched] = await storeInboundMessages(db, [await inbound(newWaId(), { fromMe: true })]);
    for (const { conversationId } of [alone, batched!]) {
      expect((await db.conversation.findUniqueOrThrow({ where: { id: conversationId } })).lastInboundAt).toBeNull();
    }
  });

  it("keeps a message another app answers as history, and counts it as the user's word for the window", async () => {
    const t = Date.now() - 60_000;
    for (const store of [
      async (input: InboundBatchInput) => (await storeInboundMessages(db, [input]))[0]!,
      (input: InboundBatchInput) => storeInboundMessage(db, input),
    ]) {
      const waId = newWaId();
      const first = await store(await inbound(waId, { waTimestamp: new Date(t) }));
      const watched = await store(await inbound(waId, { observed: true, waTimestamp: new Date(t + 5000) }));
      expect(watched).toMatchObject({ conversationId: first.conversationId, isNew: true, pending: false });
      expect(await db.message.findUniqueOrThrow({ where: { id: watched.messageId } })).toMatchObject({
        direction: 'inbound',
        status: 'noted',
      });
      expect(await db.conversation.findUniqueOrThrow({ where: { id: first.conversationId } })).toMatchObject({
        lastInboundAt: new Date(t + 5000),
      });
    }
  });

  it('lets concurrent batches of the same new contacts finish, each message stored once', async () => {
    const contacts = Array.from({ length: 6 }, newWaId);
    // Four batches, each with a message from every contact, in different orders.
    const batches = await Promise.all(
      [0, 1, 2, 3].map(async (b) => {
        const order = b % 2 ? [...contacts].reverse() : contacts;
        return Promise.all(order.map((waId) => inbound(waId)));
      }),
    );
    const results = await Promise.all(batches.map((batch) => storeInboundMessages(db, batch)));
    // Whatever a batch could not settle (a row a concurrent batch inserted after its snapshot)
    // is stored alone, as the worker does.
    for (const [b, batch] of batches.entries()) {
      for (const [i, input] of batch.entries()) if (!results[b]![i]) await storeInboundMessage(db, input);
    }
    expect(await db.contact.count({ where: { waId: { in: contacts } } })).toBe(6);
    const conversations = await db.conversation.findMany({ where: { contact: { waId: { in: contacts } } } });
    expect(conversations).toHaveLength(6);
    expect(await db.message.count({ where: { conversationId: { in: conversations.map((c) => c.id) } } })).toBe(24);
    for (const batch of batches) for (const input of batch) expect(await processed(input.inboxEventId)).toBe(true);
  });

  describe('a user known by their number and by their business-scoped user id (BSUID)', () => {
    let bsuidSeq = 0;
    const newBsuid = () => `BR.${Date.now()}${String(++bsuidSeq).padStart(4, '0')}`;
    const contactOf = async (conversationId: string) =>
      (await db.conversation.findUniqueOrThrow({ where: { id: conversationId }, include: { contact: true } })).contact;

    // Each case runs through the batch statement and through the one-message statement the
    // worker falls back to: both must settle the contact the same way.
    const ways = [
      ['in a batch', async (input: InboundBatchInput) => (await storeInboundMessages(db, [input]))[0]!],
      ['alone', (input: InboundBatchInput) => storeInboundMessage(db, input)],
    ] as const;

    it.each(ways)(
      'keeps one contact when a user known by their number later writes with the BSUID alone (%s)',
      async (_, store) => {
        const [phone, bsuid] = [newWaId(), newBsuid()];
        const first = await store(await inbound(phone, { userId: bsuid }));
        expect(await contactOf(first.conversationId)).toMatchObject({ waId: phone, userId: bsuid });
        // A username user: Meta withholds the number, `from_user_id` is all there is.
        const later = await store(await inbound(bsuid, { userId: bsuid, profileName: 'Ana (username)' }));
        expect(later.conversationId).toBe(first.conversationId);
        expect(await contactOf(later.conversationId)).toMatchObject({ waId: phone, profileName: 'Ana (username)' });
        expect(await db.contact.count({ where: { waId: bsuid } })).toBe(0);
      },
    );

    it.each(ways)(
      'keeps one contact when a user first known by the BSUID later shows their number (%s)',
      async (_, store) => {
        const [phone, bsuid] = [newWaId(), newBsuid()];
        const first = await store(await inbound(bsuid, { userId: bsuid }));
        expect(await contactOf(first.conversationId)).toMatchObject({ waId: bsuid, userId: bsuid });
        const later = await store(await inbound(phone, { userId: bsuid }));
        expect(later.conversationId).toBe(first.conversationId);
        expect(await db.contact.count({ where: { waId: phone } })).toBe(0);
      },
    );

    it.each(ways)('records the BSUID on a contact known before BSUIDs, and its change (%s)', async (_, store) => {
      const [phone, bsuid, changed] = [newWaId(), newBsuid(), newBsuid()];
      const before = await store(await inbound(phone));
      expect((await contactOf(before.conversationId)).userId).toBeNull();
      await store(await inbound(phone, { userId: bsuid }));
      expect((await contactOf(before.conversationId)).userId).toBe(bsuid);
      await store(await inbound(phone, { userId: changed, waTimestamp: new Date(Date.now() + 1000) }));
      expect((await contactOf(before.conversationId)).userId).toBe(changed);
    });

    it.each(ways)(
      'leaves a BSUID with the contact first known by it, and the number with its own (%s)',
      async (_, store) => {
        // Made before BSUIDs were recorded beside numbers: two contacts of one user, one per id
        // (the migration gave the BSUID's contact its id as its BSUID).
        const [phone, bsuid] = [newWaId(), newBsuid()];
        const byNumber = await db.contact.create({ data: { waId: phone } });
        const byBsuid = await db.contact.create({ data: { waId: bsuid, userId: bsuid } });
        const both = await store(await inbound(phone, { userId: bsuid }));
        expect((await contactOf(both.conversationId)).id).toBe(byNumber.id);
        expect((await db.contact.findUniqueOrThrow({ where: { id: byNumber.id } })).userId).toBeNull();
        const alone = await store(await inbound(bsuid, { userId: bsuid }));
        expect((await contactOf(alone.conversationId)).id).toBe(byBsuid.id);
      },
    );

    it('leaves a BSUID alone in a batch to the one-at-a-time path when the number beside it records it', async () => {
      // Known by number before BSUIDs: the batch's message with the number records it, and
      // the one without must then find that contact, not make one of its own first.
      const [phone, bsuid] = [newWaId(), newBsuid()];
      const known = await db.contact.create({ data: { waId: phone } });
      const batch = [await inbound(bsuid, { userId: bsuid }), await inbound(phone, { userId: bsuid })];
      const stored = await storeInboundMessages(db, batch);
      expect(stored[0]).toBeUndefined();
      expect((await contactOf(stored[1]!.conversationId)).id).toBe(known.id);
      const alone = await storeInboundMessage(db, batch[0]!);
      expect(alone.conversationId).toBe(stored[1]!.conversationId);
      expect(await db.contact.count({ where: { waId: bsuid } })).toBe(0);
    });

    it('makes one contact of a new user whose number and BSUID alone arrive in one batch', async () => {
      const [phone, bsuid] = [newWaId(), newBsuid()];
      const stored = await storeInboundMessages(db, [
        await inbound(bsuid, { userId: bsuid }),
        await inbound(phone, { userId: bsuid }),
      ]);
      expect(stored[0]!.conversationId).toBe(stored[1]!.conversationId);
      expect(await contactOf(stored[0]!.conversationId)).toMatchObject({ waId: phone, userId: bsuid });
      expect(await db.contact.count({ where: { waId: bsuid } })).toBe(0);
    });
  });
});
