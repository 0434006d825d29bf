import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';

// The message path looks up one conversation's messages in one state on every send (what waits
// before it, what to wake after it). Replies sit queued for milliseconds, so the statistics
// seldom see one; when an outage leaves a backlog, any index that leads with the status lets the
// planner read the whole backlog for each lookup (migration 20261125100000).

let database: TestDatabase;
let client: Client;

beforeAll(async () => {
  database = await createTestDatabase();
  client = new Client({ connectionString: database.url });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await database.drop();
});

/** Every plan node of an `EXPLAIN (FORMAT JSON)` plan, depth first. */
function nodes(plan: Record<string, unknown>): Record<string, unknown>[] {
  const children = (plan['Plans'] as Record<string, unknown>[] | undefined) ?? [];
  return [plan, ...children.flatMap(nodes)];
}

describe('indexes on messages', () => {
  it('has none that leads with the status', async () => {
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
    // 3,000 conversations with a message each way, analysed; then a queued reply in each, as an
    // outage leaves them, not yet analysed (autovacuum off, as between two automatic analyses).
    await client.query(`
      ALTER TABLE messages SET (autovacuum_enabled = false);
      INSERT INTO channels (provider, external_id) VALUES ('cloud', 'index-test');
      INSERT INTO contacts (wa_id) SELECT 'idx' || g FROM generate_series(1, 3000) g;
      INSERT INTO conversations (channel_id, contact_id)
        SELECT ch.id, ct.id FROM contacts ct, channels ch WHERE ch.external_id = 'index-test';
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, status, created_at)
        SELECT c.id, c.channel_id, d.dir, 'text', 'x', CASE d.dir WHEN 'inbound' THEN 'answered' ELSE 'sent' END,
               now() - interval '1 hour'
        FROM conversations c, (VALUES ('inbound'), ('outbound')) d(dir);
      ANALYZE messages;
      ANALYZE conversations;
      INSERT INTO messages (conversation_id, channel_id, direction, type, body, status, reply_index)
        SELECT c.id, c.channel_id, 'outbound', 'text', 'y', 'queued', 0 FROM conversations c;`);

    // The shape of the record's look for what to wake next (outbound.repository.ts, recordMany).
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> }] }>(`
      EXPLAIN (FORMAT JSON)
      SELECT me.id, other.id AS next
      FROM messages me
      LEFT JOIN LATERAL (
        SELECT other.id FROM messages other
        WHERE other.conversation_id = me.conversation_id AND other.direction = 'outbound'
          AND other.status = 'queued' AND other.broadcast_id IS NULL AND other.id <> me.id
        ORDER BY other.created_at, other.reply_index
        LIMIT 2) other ON true
      WHERE me.id = ANY(ARRAY(SELECT id FROM messages WHERE status = 'sent' LIMIT 6))`);
    const lookups = nodes(rows[0]!['QUERY PLAN'][0].Plan).filter((n) => n['Alias'] === 'other');
    expect(lookups.length).toBe(1);
    // Read through an index on the conversation, never by status alone or the whole table.
    expect(String(lookups[0]!['Index Cond'])).toContain('conversation_id');
  });
});
