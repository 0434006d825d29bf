import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, query, sql, type Db } from './client';
import { storeInboundMessage } from './conversation.repository';
import { commitTurn, type TurnCommit } from './turn.repository';

// Plain turns committed in the same tick share one statement (`coalescedWrite`), so each
// `Promise.all` below is one multi-row commit: every turn must get the answer, and leave the
// rows, that committing alone would have.

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
let fence = 0;

/** A new contact's message, stored and waiting for its turn. */
async function pending(waId = `55119666${String(++contactSeq).padStart(5, '0')}`) {
  const stored = await storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: '106540352242666',
    waId,
    profileName: 'Ana',
    providerMessageId: `wamid.${randomUUID()}`,
    type: 'text',
    body: 'oi',
    payload: {},
    waTimestamp: new Date(),
  });
  return { ...stored, waId };
}

/** A plain turn's commit (a reply, no handoff or opt-out) with the next fencing token. */
function plain(
  stored: { conversationId: string; channelId: string },
  inputMessageIds: string[],
  overrides: Partial<TurnCommit> = {},
): TurnCommit {
  return {
    conversationId: stored.conversationId,
    channelId: stored.channelId,
    fence: ++fence,
    inputMessageIds,
    input: [],
    result: {
      engine: 'local',
      status: 'done',
      replies: [{ type: 'text', body: `to ${stored.conversationId}` }],
      latencyMs: 1,
    },
    failedTurns: 0,
    ...overrides,
  };
}

const messagesOf = (conversationId: string) =>
  db.message.findMany({ where: { conversationId }, orderBy: [{ direction: 'asc' }, { replyIndex: 'asc' }] });

describe('plain turns committed together', () => {
  it('commits each turn with its own reply, context and settings', async () => {
    const [a, b, c] = await Promise.all([pending(), pending(), pending()]);
    const sendAfter = new Date(Date.now() + 60_000);
    const answers = await Promise.all([
      commitTurn(db, plain(a, [a.messageId], { context: { step: 'a' }, failedTurns: 2 })),
      commitTurn(
        db,
        plain(b, [b.messageId], {
          sendAfter,
          outbound: [
            { type: 'text', body: 'one', payload: { n: 1 } },
            { type: 'interactive', body: 'two', payload: { n: 2 } },
          ],
        }),
      ),
      commitTurn(
        db,
        plain(c, [c.messageId], {
          result: { engine: 'openai', status: 'failed', replies: [], latencyMs: 9, error: 'down' },
        }),
      ),
    ]);
    for (const answer of answers) expect(answer).toMatchObject({ turn: { seq: 1 }, handoff: null });
    // One transaction wrote all three: the shared statement, not its fall-back to one at a time
    // (which would give the same rows and hide a broken shared statement).
    const { rows: writers } = await query<{ xmin: string }>(
      db,
      sql`SELECT DISTINCT xmin::text AS xmin FROM turns
          WHERE conversation_id = ANY(${[a.conversationId, b.conversationId, c.conversationId]}::uuid[])`,
    );
    expect(writers).toHaveLength(1);
    expect(answers.map((x) => ('outbound' in x ? x.outbound.length : -1))).toEqual([1, 2, 0]);

    const conversation = (id: string) => db.conversation.findUniqueOrThrow({ where: { id } });
    expect(await conversation(a.conversationId)).toMatchObject({ context: { step: 'a' }, failedTurns: 2 });
    expect(await conversation(b.conversationId)).toMatchObject({ failedTurns: 0 });
    const [inboundB, ...repliesB] = await messagesOf(b.conversationId);
    expect(inboundB).toMatchObject({ status: 'answered', turnId: 'turn' in answers[1] ? answers[1].turn.id : null });
    expect(repliesB.map((m) => [m.type, m.body, m.payload, m.replyIndex, m.status, m.sendAfter])).toEqual([
      ['text', 'one', { n: 1 }, 0, 'queued', sendAfter],
      ['interactive', 'two', { n: 2 }, 1, 'queued', sendAfter],
    ]);
    expect(await db.turn.findFirstOrThrow({ where: { conversationId: c.conversationId } })).toMatchObject({
      engine: 'openai',
      status: 'failed',
      error: 'down',
      latencyMs: 9,
    });
  });

  it('refuses a turn whose fence is stale and commits the others', async () => {
    const [a, b] = await Promise.all([pending(), pending()]);
    const a2 = await pending(a.waId);
    await commitTurn(db, plain(a, [a.messageId]));
    const answers = await Promise.all([
      commitTurn(db, plain(a, [a2.messageId], { fence: 1 })), // below the one committed
      commitTurn(db, plain(b, [b.messageId])),
    ]);
    expect(answers[0]).toEqual({ rejected: 'stale_fence' });
    expect(answers[1]).toMatchObject({ turn: { seq: 1 } });
    expect((await db.message.findUniqueOrThrow({ where: { id: a2.messageId } })).turnId).toBeNull();
  });

  it('refuses a turn whose inputs another turn answered, and the others still commit', async () => {
    const [a, b, c] = await Promise.all([pending(), pending(), pending()]);
    const a2 = await pending(a.waId);
    await commitTurn(db, plain(a, [a.messageId]));
    const answers = await Promise.all([
      commitTurn(db, plain(b, [b.messageId])),
      commitTurn(db, plain(a, [a.messageId, a2.messageId])), // a's first message is answered
      commitTurn(db, plain(c, [c.messageId])),
    ]);
    expect(answers[1]).toEqual({ rejected: 'inputs_taken' });
    expect(answers[0]).toMatchObject({ turn: { seq: 1 } });
    expect(answers[2]).toMatchObject({ turn: { seq: 1 } });
    expect(await db.turn.count({ where: { conversationId: a.conversationId } })).toBe(1);
    expect((await db.message.findUniqueOrThrow({ where: { id: a2.messageId } })).turnId).toBeNull();
  });

  it('commits a conversation asked for twice at once only once', async () => {
    const a = await pending();
    const answers = await Promise.all([
      commitTurn(db, plain(a, [a.messageId])),
      commitTurn(db, plain(a, [a.messageId])),
    ]);
    expect(answers.filter((x) => 'turn' in x)).toHaveLength(1);
    expect(await db.turn.count({ where: { conversationId: a.conversationId } })).toBe(1);
    expect((await messagesOf(a.conversationId)).filter((m) => m.direction === 'outbound')).toHaveLength(1);
  });

  it('refuses a turn when another committed while it waited for the row, and commits the rest', async () => {
    const [a, b] = await Promise.all([pending(), pending()]);
    const a2 = await pending(a.waId);
    const other = new Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE conversations SET turn_fence = turn_fence + 1 WHERE id = $1', [a.conversationId]);
      await other.query(
        `INSERT INTO turns (conversation_id, seq, fence, status, engine, output) VALUES ($1, 1, 1, 'done', 'local', '[]')`,
        [a.conversationId],
      );
      // Fences far above the other turn's: only the turn number it took can stop a's commit.
      const ours = Promise.all([
        commitTurn(db, plain(a, [a2.messageId], { fence: 1_000_000 })),
        commitTurn(db, plain(b, [b.messageId])),
      ]);
      await new Promise((r) => setTimeout(r, 300)); // ours waits for a's row by now
      await other.query('COMMIT');
      const [forA, forB] = await ours;
      expect(forA).toEqual({ rejected: 'stale_fence' });
      expect(forB).toMatchObject({ turn: { seq: 1 } });
    } finally {
      await other.end();
    }
    expect((await db.message.findUniqueOrThrow({ where: { id: a2.messageId } })).turnId).toBeNull();
  });

  it('refuses a turn that read an older fence, or whose conversation a person took, beside turns that commit', async () => {
    const [a, b, c] = await Promise.all([pending(), pending(), pending()]);
    const a2 = await pending(a.waId);
    await commitTurn(db, plain(a, [a.messageId]));
    const seenFence = Number((await db.conversation.findUniqueOrThrow({ where: { id: a.conversationId } })).turnFence);
    await db.conversation.update({ where: { id: b.conversationId }, data: { state: 'human' } });
    const answers = await Promise.all([
      commitTurn(db, plain(a, [a2.messageId], { seenFence: seenFence - 1 })),
      commitTurn(db, plain(b, [b.messageId])),
      commitTurn(db, plain(c, [c.messageId], { seenFence: 0 })),
    ]);
    expect(answers[0]).toEqual({ rejected: 'stale_fence' });
    expect(answers[1]).toEqual({ rejected: 'stale_fence' });
    expect(answers[2]).toMatchObject({ turn: { seq: 1 } });
    expect((await db.message.findUniqueOrThrow({ where: { id: b.messageId } })).turnId).toBeNull();
    expect(await db.turn.count({ where: { conversationId: { in: [a.conversationId, b.conversationId] } } })).toBe(1);
  });

  it('keeps the stored context when a turn has none', async () => {
    const a = await pending();
    await commitTurn(db, plain(a, [a.messageId], { context: { name: 'Ana' } }));
    const a2 = await pending(a.waId);
    const b = await pending();
    await Promise.all([commitTurn(db, plain(a, [a2.messageId])), commitTurn(db, plain(b, [b.messageId]))]);
    expect((await db.conversation.findUniqueOrThrow({ where: { id: a.conversationId } })).context).toEqual({
      name: 'Ana',
    });
  });

  it('does not wait for a transaction that only inserted a message of the conversation', async () => {
    // An API send or a broadcast holds its new messages' foreign-key share lock on the
    // conversation until it commits; a turn's update does not conflict with it.
    const [a, b] = await Promise.all([pending(), pending()]);
    const other = new Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO messages (conversation_id, channel_id, direction, type, body, status)
         VALUES ($1, $2, 'outbound', 'text', 'from the API', 'queued')`,
        [a.conversationId, a.channelId],
      );
      const committed = await Promise.race([
        Promise.all([commitTurn(db, plain(a, [a.messageId])), commitTurn(db, plain(b, [b.messageId]))]),
        new Promise((r) => setTimeout(() => r('waited'), 2_000)),
      ]);
      expect(committed).not.toBe('waited');
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
  });
});
