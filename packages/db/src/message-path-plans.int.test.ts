import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, messagePathUrl, query, sql, type Db } from './client';
import { getConversation, storeInboundMessage } from './conversation.repository';
import { storeInboundMessages } from './inbound-batch.repository';
import { getInboxEvents, recordInboxEvents } from './inbox.repository';
import { claimForSending, findStaleOutbound, getOutboundForSend, markSent } from './outbound.repository';
import { commitTurn, readTurnInputs } from './turn.repository';

// The message path's pool plans every statement once per connection (generic plans, forced:
// `MESSAGE_PATH_SETTINGS` in client.ts). A plan made on a fresh database, when every table is
// nearly empty, is kept for as long as the connection lives, so it must not depend on the
// tables staying small. These tests run the path once on an empty database, grow its tables
// without telling the planner, and read the plans that connection kept.

const TABLES = ['channels', 'contacts', 'conversations', 'messages', 'inbox_events', 'turns'];

let database: TestDatabase;
let admin: Client;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  admin = new Client({ connectionString: database.url });
  await admin.connect();
  // No automatic analysis (which would make PostgreSQL plan again) while the tables grow.
  for (const table of TABLES) await admin.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  // Two connections: one for Prisma, one for the message path, so the path's plans share one
  // connection, the one read below.
  db = createDb({ url: database.url, poolSize: 2 });
});
afterAll(async () => {
  await db.$disconnect();
  await admin.end();
  await database.drop();
});

/** One message through every statement of the message path, on `target`. */
async function runMessagePath(target: Db) {
  const wamid = `wamid.${randomUUID()}`;
  const [event] = await recordInboxEvents(target, [
    { provider: 'cloud', kind: 'message', channelKey: 'pn-plans', dedupeKey: wamid, payload: {} },
  ]);
  await getInboxEvents(target, [event!.id]);
  const input = {
    inboxEventId: event!.id,
    provider: 'cloud',
    channelExternalId: '106540352240001',
    waId: `5511966${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`,
    profileName: 'Ana',
    providerMessageId: wamid,
    type: 'text',
    body: 'oi',
    payload: { text: { body: 'oi' } },
    waTimestamp: new Date(),
    arrivedAt: new Date(),
    arrivalSeq: 1n,
  };
  const [stored] = await storeInboundMessages(target, [input]);
  await storeInboundMessage(target, { ...input, providerMessageId: `wamid.${randomUUID()}` });
  await getConversation(target, stored!.conversationId);
  await readTurnInputs(target, { conversationId: stored!.conversationId, historyLimit: 20, unstoredWithinMs: 60_000 });
  const committed = await commitTurn(target, {
    conversationId: stored!.conversationId,
    channelId: stored!.channelId,
    fence: 1,
    inputMessageIds: [stored!.messageId],
    input: [],
    result: { engine: 'local', status: 'done', replies: [{ type: 'text', body: 'olá' }], latencyMs: 1 },
    failedTurns: 0,
  });
  if ('rejected' in committed) throw new Error(`turn rejected: ${committed.rejected}`);
  const replyId = committed.outbound[0]!.id;
  await getOutboundForSend(target, replyId);
  expect(await claimForSending(target, replyId, 30_000)).toBe(true);
  await markSent(target, replyId, `wamid.${randomUUID()}`);
  await findStaleOutbound(target, { olderThanMs: 60_000, limit: 100 });
}

/** Tens of thousands of rows in every table of the path, written after its plans were made. */
async function growTables() {
  await admin.query(`
    INSERT INTO channels (provider, external_id) SELECT 'cloud', 'grown' || g FROM generate_series(1, 2000) g;
    INSERT INTO contacts (wa_id) SELECT 'grown' || g FROM generate_series(1, 20000) g;
    INSERT INTO conversations (channel_id, contact_id)
      SELECT (SELECT id FROM channels WHERE external_id = 'grown1'), id FROM contacts WHERE wa_id LIKE 'grown%';
    INSERT INTO messages (conversation_id, channel_id, direction, type, body, status, provider_message_id)
      SELECT c.id, c.channel_id, 'inbound', 'text', 'x', 'answered', 'grown.' || c.id || d.n
      FROM conversations c, generate_series(1, 3) d(n) WHERE c.channel_id = (SELECT id FROM channels WHERE external_id = 'grown1');
    INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, sender, payload, processed_at)
      SELECT 'cloud', 'message', 'grown', 'grown' || g, 'grown' || (g % 20000 + 1), '{}', now()
      FROM generate_series(1, 60000) g;`);
}

type PlanNode = Record<string, unknown>;

/**
 * Every node of the plan each of the connection's prepared statements has now (`EXPLAIN EXECUTE`
 * with every parameter NULL: a generic plan does not depend on them), by statement text.
 */
async function keptPlans(target: Db): Promise<Map<string, PlanNode[]>> {
  const nodes = (plan: PlanNode): PlanNode[] => [
    plan,
    ...((plan['Plans'] as PlanNode[] | undefined) ?? []).flatMap(nodes),
  ];
  const { rows: statements } = await query<{ name: string; parameters: number; statement: string }>(
    target,
    sql`SELECT name, cardinality(parameter_types) AS parameters, statement FROM pg_prepared_statements
        WHERE statement ~* '^\\s*(WITH|SELECT|INSERT|UPDATE|DELETE)' AND statement NOT LIKE '%pg_prepared_statements%'`,
  );
  const plans = new Map<string, PlanNode[]>();
  for (const { name, parameters, statement } of statements) {
    const nulls = parameters > 0 ? `(${Array.from({ length: parameters }, () => 'NULL').join(', ')})` : '';
    const { rows } = await query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(target, {
      text: `EXPLAIN (FORMAT JSON) EXECUTE ${name}${nulls}`,
      values: [],
    });
    plans.set(statement, nodes(rows[0]!['QUERY PLAN'][0].Plan));
  }
  return plans;
}

/** "statement: Seq Scan on table" for every sequential scan of a path table in `plans`. */
function tableScans(plans: Map<string, PlanNode[]>): string[] {
  return [...plans].flatMap(([statement, plan]) =>
    plan
      .filter((n) => n['Node Type'] === 'Seq Scan' && TABLES.includes(String(n['Relation Name'])))
      .map((n) => `${statement.replace(/\s+/g, ' ').slice(0, 60)}...: Seq Scan on ${String(n['Relation Name'])}`),
  );
}

describe("the message path's connections", () => {
  it('plan generically, without sequential scans or JIT; Prisma plans as the server is configured', async () => {
    const { rows } = await query<{ mode: string; seqscan: string; jit: string }>(
      db,
      sql`SELECT current_setting('plan_cache_mode') AS mode, current_setting('enable_seqscan') AS seqscan,
                 current_setting('jit') AS jit`,
    );
    expect(rows).toEqual([{ mode: 'force_generic_plan', seqscan: 'off', jit: 'off' }]);
    const prisma = await db.$queryRaw<{ mode: string; seqscan: string }[]>`
      SELECT current_setting('plan_cache_mode') AS mode, current_setting('enable_seqscan') AS seqscan`;
    expect(prisma).toEqual([{ mode: 'auto', seqscan: 'on' }]);
  });

  it('keeps the settings a DATABASE_URL gives in its own options', () => {
    const url = new URL(messagePathUrl('postgresql://u@h:5432/d?options=-c%20statement_timeout%3D5s&sslmode=disable'));
    expect(url.searchParams.get('options')).toBe(
      '-c statement_timeout=5s -c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c jit=off',
    );
    expect(url.searchParams.get('sslmode')).toBe('disable');
  });

  it('read by index after the tables grew, with plans made while they were empty', async () => {
    await runMessagePath(db);
    // The control: the same statements, planned on another connection with sequential scans
    // allowed, while the tables are as empty. Some of those plans scan a table: the trap.
    const control = createDb({ url: database.url, poolSize: 2 });
    try {
      await query(control, sql`SET enable_seqscan = on`);
      await runMessagePath(control);
      await growTables();
      const kept = await keptPlans(db);
      // Every statement the path ran is here: the inbox's insert and read, both ways of storing,
      // the turn's reads and commit, the send's read, claim and record, the stale-send sweep.
      const onTables = [...kept.values()].filter((plan) =>
        plan.some((n) => TABLES.includes(String(n['Relation Name']))),
      );
      expect(onTables.length).toBeGreaterThanOrEqual(11);
      expect(tableScans(kept)).toEqual([]);
      expect(tableScans(await keptPlans(control)).length).toBeGreaterThan(0);
    } finally {
      await control.$disconnect();
    }
  });
});
