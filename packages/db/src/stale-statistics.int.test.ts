import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import type { Statement } from './client';
import { recordSentStatement, staleOutboundStatement } from './outbound.repository';
import { turnInputsStatement } from './turn.repository';

// The message path looks up one conversation's or one contact's rows in a passing state (a
// queued reply, an unprocessed inbox event) on every turn and send. Rows stay in those states for
// milliseconds, so ANALYZE's sample seldom sees one. When an outage leaves a backlog the
// statistics have not seen, a way in by state (or by time, within it) looks as cheap to the
// planner as the exact one, and reading the whole backlog for every lookup makes a backlog drain
// in time that grows with its square (migrations 20261125100000 to 20261125120000). These tests
// plant such statistics and check the plans PostgreSQL makes, custom and generic.

let database: TestDatabase;
let client: Client;
let conversationIds: string[];

beforeAll(async () => {
  database = await createTestDatabase();
  client = new Client({ connectionString: database.url });
  await client.connect();
  // No automatic analysis between the planted statistics and the backlogs.
  await client.query(`
    ALTER TABLE messages SET (autovacuum_enabled = false);
    ALTER TABLE inbox_events SET (autovacuum_enabled = false);
    INSERT INTO channels (provider, external_id) VALUES ('cloud', 'stale-stats');
    INSERT INTO contacts (wa_id) SELECT 'stale' || g FROM generate_series(1, 3000) g;
    INSERT INTO conversations (channel_id, contact_id)
      SELECT ch.id, ct.id FROM contacts ct, channels ch WHERE ch.external_id = 'stale-stats';`);
  const { rows } = await client.query<{ id: string }>('SELECT id FROM conversations ORDER BY id LIMIT 6');
  conversationIds = rows.map((r) => r.id);
});
afterAll(async () => {
  await client.end();
  await database.drop();
});

let statementSeq = 0;

/** A statement's value written as an SQL literal, for `EXECUTE`. */
function literal(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value instanceof Date) return literal(value.toISOString());
  if (Array.isArray(value)) return literal(`{${value.join(',')}}`);
  return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * Every node, depth first, of the two plans PostgreSQL can keep for `statement` prepared and run
 * with its values: one made for those values (custom) and one made for any (generic). The message
 * path's statements are prepared, and PostgreSQL may keep either.
 */
async function plansOf({ text, values }: Statement): Promise<Record<string, unknown>[][]> {
  const name = `stale_stats_${++statementSeq}`;
  await client.query(`PREPARE ${name} AS ${text}`);
  const nodes = (plan: Record<string, unknown>): Record<string, unknown>[] => [
    plan,
    ...((plan['Plans'] as Record<string, unknown>[] | undefined) ?? []).flatMap(nodes),
  ];
  try {
    const plans = [];
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> }] }>(
        `EXPLAIN (FORMAT JSON) EXECUTE ${name}(${values.map(literal).join(', ')})`,
      );
      plans.push(nodes(rows[0]!['QUERY PLAN'][0].Plan));
    }
    return plans;
  } finally {
    await client.query(`RESET plan_cache_mode; DEALLOCATE ${name}`);
  }
}

describe('messages', () => {
  beforeAll(async () => {
    // A message each way in every conversation, analysed; then a queued reply in each.
    await client.query(`
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
    // The record (outbound.repository.ts, recordSentStatement) of six sent replies, whose look
    // for what to wake next reads the queued ones. Planned, never run.
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM messages WHERE status = 'sent' LIMIT 6`);
    const plans = await plansOf(
      recordSentStatement(
        rows.map((r, i) => ({ id: r.id, providerMessageId: `wamid.${i}`, viaChannelId: null, asTemplate: false })),
      ),
    );
    for (const plan of plans) {
      const lookups = plan.filter((n) => n['Alias'] === 'other');
      expect(lookups.length).toBe(1);
      // Through an index on the conversation, never by status alone or the whole table.
      expect(String(lookups[0]!['Index Cond'])).toContain('conversation_id');
    }
  });

  it('finds stale unsent replies across conversations by reading only the unsent ones', async () => {
    // The sweep that re-queues stale sends (outbound.repository.ts, staleOutboundStatement).
    const plans = await plansOf(staleOutboundStatement(new Date(Date.now() + 60_000), 100));
    for (const plan of plans) {
      expect(plan.filter((n) => n['Relation Name'] === 'messages' && n['Node Type'] === 'Seq Scan')).toEqual([]);
      expect(plan.map((n) => n['Index Name']).filter(Boolean)).toEqual(['messages_unsent_idx']);
    }
  });
});

describe('inbox events', () => {
  beforeAll(async () => {
    // 20,000 processed events from the conversations' contacts, analysed; then 5,000 unprocessed
    // ones received seconds ago.
    await client.query(`
      INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, sender, payload, processed_at, received_at)
        SELECT 'cloud', 'message', 'stale-stats', 'done' || g, 'stale' || (g % 3000 + 1), '{}',
               now() - interval '2 hours', now() - interval '2 hours'
        FROM generate_series(1, 20000) g;
      ANALYZE inbox_events;`);
    await client.query('VACUUM inbox_events'); // not in a transaction: a statement of its own
    await client.query(`
      INSERT INTO inbox_events (provider, kind, channel_key, dedupe_key, sender, payload, received_at)
        SELECT 'cloud', 'message', 'stale-stats', 'backlog' || g, 'stale' || (g % 3000 + 1), '{}',
               now() - interval '10 seconds'
        FROM generate_series(1, 5000) g;`);
  });

  it("finds a contact's earlier unstored messages by sender while the statistics have not seen the backlog", async () => {
    // The turns' inputs read itself (turn.repository.ts), for six conversations.
    const plans = await plansOf(turnInputsStatement(conversationIds, 20, 60_000));
    for (const plan of plans) {
      const lookups = plan.filter((n) => n['Alias'] === 'e');
      expect(lookups.length).toBe(1);
      expect(String(lookups[0]!['Index Cond'])).toContain('sender');
    }
  });
});
