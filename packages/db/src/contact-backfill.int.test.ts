import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@zapflow/testkit';
import { createDb, type Db } from './client';
import { storeInboundMessage } from './conversation.repository';
import { MIGRATIONS_DIR } from './migrate';

let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb({ url: database.url, poolSize: 4 });
});
afterAll(async () => {
  await db.$disconnect();
  await database.drop();
});

/** A message as the code before contacts.user_id stored it: the BSUID only in its payload. */
const storedBefore = (waId: string, fromUserId: string | undefined, sentAt: Date) =>
  storeInboundMessage(db, {
    provider: 'cloud',
    channelExternalId: '106540352242555',
    waId,
    providerMessageId: `wamid.${randomUUID()}`,
    type: 'text',
    body: 'oi',
    payload: { from: waId, ...(fromUserId !== undefined && { from_user_id: fromUserId }) },
    waTimestamp: sentAt,
  });

const userIdOf = async (waId: string) => (await db.contact.findUniqueOrThrow({ where: { waId } })).userId;

describe('migration 20261125150100_contact_user_id_backfill', () => {
  it('gives contacts made before BSUIDs were recorded the one they go by, and never one BSUID to two', async () => {
    const t = Date.now() - 60_000;
    await storedBefore('5511966660001', 'BR.10000000000000000001', new Date(t));
    await storedBefore('5511966660001', 'BR.10000000000000000002', new Date(t + 1000)); // the newest
    await storedBefore('BR.10000000000000000003', 'BR.10000000000000000003', new Date(t));
    await storedBefore('5511966660002', 'BR.10000000000000000003', new Date(t)); // the BSUID contact's
    await storedBefore('5511966660003', 'BR.10000000000000000004', new Date(t));
    await storedBefore('5511966660004', 'BR.10000000000000000004', new Date(t)); // shared with the one above
    await storedBefore('5511966660005', undefined, new Date(t)); // before Meta sent BSUIDs
    expect(await db.contact.count({ where: { userId: { not: null } } })).toBe(0);

    const sql = await readFile(
      path.join(MIGRATIONS_DIR, '20261125150100_contact_user_id_backfill', 'migration.sql'),
      'utf8',
    );
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }

    expect(await userIdOf('5511966660001')).toBe('BR.10000000000000000002');
    expect(await userIdOf('BR.10000000000000000003')).toBe('BR.10000000000000000003');
    expect(await userIdOf('5511966660002')).toBeNull();
    expect(await userIdOf('5511966660003')).toBeNull();
    expect(await userIdOf('5511966660004')).toBeNull();
    expect(await userIdOf('5511966660005')).toBeNull();
  });
});
