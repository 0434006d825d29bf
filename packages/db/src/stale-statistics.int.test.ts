import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';

// The message path looks up one conversation's or one contact's rows in a passing state (a
// queued reply, an unprocessed inbox event) on every turn and send. Rows stay in those states for
// milliseconds, so ANALYZE's sample seldom sees one. When an outage leaves a backlog the
// statistics have not seen, an index on the state (or on time, within it) looks as cheap to the
// planner as the exact one, and reading the whole backlog for every lookup makes a backlog drain
// in time that grows with its square (migrations 20261125100000 and 20261125110000). Each test
// plants such statistics and checks the plan of the lookup the message path makes.

let database: TestDatabase;
let client: Client;

beforeAll(async () => {
  database = await createTestDatabase();
  client = new Client({ connectionString: database.url });
  await client.connect();
  // No automatic analysis between the planted statistics and the backlog.
  await client.query(`
    ALTER TABLE messages SET (autovacuum_enabled = false);
    ALTER TABLE inbox_events SET (autovacuum_enabled = false);`);
});
afterAll(async () => {
  await client.end();
  await database.drop();
});

/** Every node of `sql`'s plan (`EXPLAIN (FORMAT JSON)`), depth first. */
async function planOf(sql: string): Promise<Record<string, unknown>[]> {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> }] }>(
    `EXPLAIN (FORMAT JSON) ${sql}`,
  );
  const nodes = (plan: Record<string, unknown>): Record<string, unknown>[] => [
    plan,
    ...((plan['Plans'] as Record<string, unknown>[] | undefined) ?? []).flatMap(nodes),
  ];
  return nodes(rows[0]!['QUERY PLAN'][0].Plan);
}

/** The nodes of `sql`'s plan that read the table aliased `alias`. */
async function readsOf(sql: string, alias: string): Promise<Record<string, unknown>[]> {
  return (await planOf(sql)).filter((n) => n['Alias'] === alias);
}

describe('messages', () => {
  beforeAll(async () => {
    // 3,000 conversations with a message each way, analysed; then a queued reply in each.
    await client.query(`
      INSERT INTO channels (provider, external_id) VALUES ('cloud', 'stale-stats');
      INSERT INTO contacts (wa_id) SELECT 'stale' || g FROM generate_series(1, 3000) g;
      INSERT INTO conversations (channel_id, contact_id)
        SELECT ch.id, ct.id FROM contacts ct, channels ch WHERE ch.external_id = 'stale-stats';
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, status, created_at)
        SELECT c.id, c.channel_id, d.dir, 'text', 'x', CASE d.dir WHEN 'inbound' THEN 'answered' ELSE 'sent' END,
               now() - interval '1 hour'
        FROM conversations c, (VALUES ('inbound'), ('outbound')) d(dir);
      ANALYZE messages;
      ANALYZE conversations;
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, status, reply_index)
        SELECT c.id, c.channel_id, 'outbound', 'text', 'y', 'queued', 0 FROM conversations c;`);
  });

  it('has no index that leads with the status', async () => {
    const { rows } = await client.query<{ name: string; first: string }>(`
      SELECT i.relname AS name, a.attname AS first
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
      WHERE t.relname = 'messages'`);
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.filter((r) => r.first === 'status')).toEqual([]);
  });

  it("finds a conversation's queued replies through the conversation while the statistics have not seen the backlog", async () => {
    // The statistics planted above: taken before the backlog of queued replies.

    // The shape of the record's look for what to wake next (outbound.repository.ts, recordMany).
    const lookups = await readsOf(
      `SELECT me.id, other.id AS next
       FROM messages me
       LEFT JOIN LATERAL (
         SELECT other.id FROM messages other
         WHERE other.conversation_id = me.conversation_id AND other.direction = 'outbound'
           AND other.status = 'queued' AND other.broadcast_id IS NULL AND other.id <> me.id
         ORDER BY other.created_at, other.reply_index
         LIMIT 2) other ON true
       WHERE me.id = ANY(ARRAY(SELECT id FROM messages WHERE status = 'sent' LIMIT 6))`,
      'other',
    );
    expect(lookups.length).toBe(1);
    // Through an index on the conversation, never by status alone or the whole table.
    expect(String(lookups[0]!['Index Cond'])).toContain('conversation_id');
  });

  it('finds stale unsent replies across conversations by reading only the unsent ones', async () => {
    // The sweep that re-queues stale sends (outbound.repository.ts, findStaleOutbound): 3,000
    // queued replies among 9,000 messages, the statistics up to date this time.
    await client.query('VACUUM ANALYZE messages');
    const plan = await planOf(
      `SELECT id, status FROM messages
       WHERE direction = 'outbound' AND status IN ('queued', 'sending') AND updated_at < now() + interval '1 minute'
         AND (send_after IS NULL OR send_after < now())
       ORDER BY created_at LIMIT 100`,
    );
    expect(plan.filter((n) => n['Relation Name'] === 'messages' && n['Node Type'] === 'Seq Scan')).toEqual([]);
    expect(plan.map((n) => n['Index Name']).filter(Boolean)).toEqual(['messages_unsent_idx']);
  });
});

describe('inbox events', () => {
  it("finds a contact's earlier unstored messages by sender while the statistics have not seen the backlog", async () => {
    // 20,000 processed events, analysed; then 5,000 unprocessed ones received seconds ago.
    await client.query(`
      INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, sender, payload, processed_at, received_at)
        SELECT 'cloud', 'message', 'stale-stats', 'done' || g, 'c' || (g % 5000), '{}', now() - interval '2 hours',
               now() - interval '2 hours'
        FROM generate_series(1, 20000) g;
      ANALYZE inbox_events;`);
    await client.query('VACUUM inbox_events'); // not in a transaction: a statement of its own
    await client.query(`
      INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, sender, payload, received_at)
        SELECT 'cloud', 'message', 'stale-stats', 'backlog' || g, 'c' || g, '{}', now() - interval '10 seconds'
        FROM generate_series(1, 5000) g;`);

    // The shape of the turn's check for earlier unstored messages (turn.repository.ts, readTurnInputs).
    const lookups = await readsOf(
      `SELECT EXISTS (
         SELECT 1 FROM inbox_events e
         WHERE e.processed_at IS NULL AND e.kind = 'message' AND e.provider = 'cloud'
           AND e.channel_key = 'stale-stats' AND e.sender = 'c42'
           AND e.received_at <= now() AND e.received_at > now() - make_interval(secs => 60))`,
      'e',
    );
    expect(lookups.length).toBe(1);
    expect(String(lookups[0]!['Index Cond'])).toContain('sender');
  });
});
