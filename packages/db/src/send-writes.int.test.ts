import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, query, sql, type Db } from './client';
import { storeInboundMessage } from './conversation.repository';
import { claimForSending, markSent } from './outbound.repository';
import { commitTurn } from './turn.repository';

// Calls made in the same tick share one statement (`coalescedWrite`), so each `Promise.all`
// below is one multi-row claim or record; these check that such a statement answers every
// caller as a statement of its own would have.

let database: TestDatabase;
let db: Db;
let other: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 10 });
  // A second handle has loaders of its own: another worker process, as far as batching goes.
  other = createDb({ url: database.url, poolSize: 10 });
});
afterAll(async () => {
  await db.$disconnect();
  await other.$disconnect();
  await database.drop();
});

let contactSeq = 0;
let fence = 0;

/** A conversation whose turn replied with `replies` queued outbound messages, in order. */
async function queuedReplies(replies = 1) {
  const stored = await storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: '106540352242777',
    waId: `55119777${String(++contactSeq).padStart(5, '0')}`,
    profileName: 'Ana',
    providerMessageId: `wamid.${randomUUID()}`,
    type: 'text',
    body: 'oi',
    payload: {},
    waTimestamp: new Date(),
  });
  const committed = await commitTurn(db, {
    conversationId: stored.conversationId,
    channelId: stored.channelId,
    fence: ++fence,
    inputMessageIds: [stored.messageId],
    input: [],
    result: {
      engine: 'local',
      status: 'done',
      replies: Array.from({ length: replies }, (_, i) => ({ type: 'text' as const, body: `reply ${i}` })),
      latencyMs: 1,
    },
    failedTurns: 0,
  });
  if ('rejected' in committed) throw new Error(`turn rejected: ${committed.rejected}`);
  return committed.outbound.map((o) => o.id);
}

const row = (id: string) => db.message.findUniqueOrThrow({ where: { id } });

describe('claims made together', () => {
  it('claims each queued message once, counting one attempt', async () => {
    const ids = (await Promise.all(Array.from({ length: 8 }, () => queuedReplies()))).flat();
    expect(await Promise.all(ids.map((id) => claimForSending(db, id, 30_000)))).toEqual(ids.map(() => true));
    for (const id of ids) expect(await row(id)).toMatchObject({ status: 'sending', sendAttempts: 1 });
    // One transaction claimed them all: the shared statement, not one per message.
    const { rows: writers } = await query<{ xmin: string }>(
      db,
      sql`SELECT DISTINCT xmin::text AS xmin FROM messages WHERE id = ANY(${ids}::uuid[])`,
    );
    expect(writers).toHaveLength(1);
    // Claimed and within their lease: none can be claimed again, alone or together.
    expect(await Promise.all(ids.map((id) => claimForSending(db, id, 30_000)))).toEqual(ids.map(() => false));
  });

  it('gives a message asked for twice in one statement to one caller only', async () => {
    const [id] = await queuedReplies();
    const answers = await Promise.all([claimForSending(db, id!, 30_000), claimForSending(db, id!, 30_000)]);
    expect(answers.sort()).toEqual([false, true]);
    expect(await row(id!)).toMatchObject({ status: 'sending', sendAttempts: 1 });
  });

  it('applies each caller’s own lease: an expired claim is taken over, a live one is not', async () => {
    const [expired] = await queuedReplies();
    const [live] = await queuedReplies();
    await Promise.all([claimForSending(db, expired!, 30_000), claimForSending(db, live!, 30_000)]);
    await new Promise((r) => setTimeout(r, 20));
    // Lease 0: the attempt that claimed it is presumed dead. Lease 30 s: it is not.
    expect(await Promise.all([claimForSending(db, expired!, 0), claimForSending(db, live!, 30_000)])).toEqual([
      true,
      false,
    ]);
    expect((await row(expired!)).sendAttempts).toBe(2);
  });

  it('claims each message once when two processes claim the same messages at once, in opposite orders', async () => {
    for (let round = 0; round < 5; round++) {
      const ids = (await Promise.all(Array.from({ length: 6 }, () => queuedReplies()))).flat();
      const [mine, theirs] = await Promise.all([
        Promise.all(ids.map((id) => claimForSending(db, id, 30_000))),
        Promise.all([...ids].reverse().map((id) => claimForSending(other, id, 30_000))),
      ]);
      theirs.reverse();
      expect(ids.map((_, i) => Number(mine[i]) + Number(theirs[i]))).toEqual(ids.map(() => 1));
      for (const id of ids) expect((await row(id)).sendAttempts).toBe(1);
    }
  });
});

describe('records made together', () => {
  it('records each message with its own wamid and how it went, and names each conversation’s next', async () => {
    const [first, second, third] = await queuedReplies(3);
    const [alone] = await queuedReplies();
    await Promise.all([claimForSending(db, first!, 30_000), claimForSending(db, alone!, 30_000)]);
    const via = (await row(first!)).channelId; // any channel id will do for the column
    const [next, nextOfAlone] = await Promise.all([
      markSent(db, first!, 'wamid.first', { viaChannelId: via, asTemplate: true }),
      markSent(db, alone!, 'wamid.alone'),
    ]);
    expect(next).toEqual([second, third]);
    expect(nextOfAlone).toEqual([]);
    expect(await row(first!)).toMatchObject({
      status: 'sent',
      providerMessageId: 'wamid.first',
      type: 'template',
      viaChannelId: via,
    });
    expect(await row(alone!)).toMatchObject({
      status: 'sent',
      providerMessageId: 'wamid.alone',
      type: 'text',
      viaChannelId: null,
    });
  });

  it('records a message asked for twice in one statement once; the first caller wakes the next', async () => {
    const [id, next] = await queuedReplies(2);
    await claimForSending(db, id!, 30_000);
    const answers = await Promise.all([markSent(db, id!, 'wamid.once'), markSent(db, id!, 'wamid.once')]);
    expect(answers).toEqual([[next], []]);
    expect(await row(id!)).toMatchObject({ status: 'sent', providerMessageId: 'wamid.once' });
  });

  it('leaves a message nobody claimed as it was, and still names what waits behind it', async () => {
    const [unclaimed, next] = await queuedReplies(2);
    const [claimed] = await queuedReplies();
    await claimForSending(db, claimed!, 30_000);
    const [waiting] = await Promise.all([
      markSent(db, unclaimed!, 'wamid.never'),
      markSent(db, claimed!, 'wamid.claimed'),
    ]);
    expect(waiting).toEqual([next]);
    expect(await row(unclaimed!)).toMatchObject({ status: 'queued', providerMessageId: null });
    expect((await row(claimed!)).status).toBe('sent');
  });

  it('records the others when one record of the statement breaks a constraint, and fails only that one', async () => {
    const [first] = await queuedReplies();
    const [second] = await queuedReplies();
    const [third] = await queuedReplies();
    await Promise.all([first, second, third].map((id) => claimForSending(db, id!, 30_000)));
    // Two messages of one channel cannot carry the same wamid.
    const answers = await Promise.allSettled([
      markSent(db, first!, 'wamid.same'),
      markSent(db, second!, 'wamid.same'),
      markSent(db, third!, 'wamid.third'),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(answers[2]!.status).toBe('fulfilled');
    expect((await row(third!)).status).toBe('sent');
    const same = await Promise.all([row(first!), row(second!)]);
    expect(same.map((m) => m.status).sort()).toEqual(['sending', 'sent']);
  });
});
