import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Db } from '@zapflow/db';
import { replaceRandomNode, seededRandom } from '@zapflow/testkit';
import { evolutionFixtures as evo, signBody, webhookFixtures as fx } from '@zapflow/whatsapp';
import { startTestServer, type TestServer } from './test-server';

// Bad input, generated (fast-check): random JSON, real Meta and Evolution payloads with random
// nodes broken, non-JSON bytes, deep nesting, oversize bodies, wrong signatures. The server never
// answers 500 and never falls over, and each answer is the one CONTRACT.md gives.

const secret = 'fuzz-secret';
const evolutionKey = 'fuzz-evolution-key';
const LIMIT = 64 * 1024;
let api: TestServer;
let db: Db;
let base: string;

beforeAll(async () => {
  api = await startTestServer('fuzz', {
    webhook: { appSecret: secret, verifyToken: 'verify-me', bodyLimitBytes: LIMIT },
    evolution: { apiKey: evolutionKey, bodyLimitBytes: LIMIT },
  });
  ({ db, base } = api);
});
afterAll(() => api.close());

async function postMeta(body: string | Buffer, signature = signBody(body, secret)) {
  const res = await fetch(`${base}/webhook/whatsapp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function postEvolution(body: string | Buffer, apikey = evolutionKey) {
  const res = await fetch(`${base}/webhook/evolution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', apikey },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

const metaPayloads = () => [
  fx.messagesNotification({ messages: [fx.textMessage({ from: '5511988887777', body: 'oi' })] }),
  fx.messagesNotification({ messages: [fx.imageMessage({ from: '5511988887777', caption: 'foto' })] }),
  fx.messagesNotification({
    messages: [fx.buttonReplyMessage({ from: '5511988887777', id: 'yes', title: 'Sim' })],
  }),
  fx.statusNotification({ wamid: fx.fakeWamid(), status: 'delivered', recipientId: '5511988887777' }),
];
const evolutionPayloads = () => [
  evo.messagesUpsert(evo.textMessage({ text: 'oi' })),
  evo.messagesUpsert(evo.imageMessage({ caption: 'foto' })),
  evo.messagesUpdate({ keyId: evo.fakeMessageId(), status: 'READ' } as never),
  evo.connectionUpdate('open'),
];

/**
 * Strings with what JSON allows and PostgreSQL's jsonb refuses mixed in: NUL and lone surrogates
 * (`fc.jsonValue`'s strings never hold them).
 */
const unstorableUnit = fc.oneof(
  fc.constantFrom('\u0000', '\ud83d', '\ude00'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

/** A real payload with a few random nodes replaced by random JSON. */
const mutated = (payloads: () => unknown[], stringUnit?: typeof unstorableUnit) =>
  fc
    .tuple(
      fc.nat({ max: 100 }),
      fc.integer(),
      fc.array(fc.jsonValue({ maxDepth: 3, ...(stringUnit && { stringUnit }) }), { minLength: 1, maxLength: 4 }),
    )
    .map(([pick, seed, replacements]) => {
      const all = payloads();
      const payload = structuredClone(all[pick % all.length]) as Record<string, unknown>;
      const random = seededRandom(seed);
      for (const replacement of replacements) replaceRandomNode(payload, replacement, random);
      return JSON.stringify(payload);
    });

describe('POST /webhook/whatsapp under generated input', () => {
  it('answers any signed JSON 200 (recorded, duplicate or unknown shape), never 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          mutated(metaPayloads),
          mutated(metaPayloads, unstorableUnit),
        ),
        async (body) => {
          expect(await postMeta(body)).toBe(200);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers signed bytes that are not JSON 400', async () => {
    const notJson = fc
      .uint8Array({ minLength: 1, maxLength: 512 })
      .map((bytes) => Buffer.from(bytes))
      .filter((buffer) => {
        try {
          JSON.parse(buffer.toString('utf8'));
          return false;
        } catch {
          return true;
        }
      });
    await fc.assert(
      fc.asyncProperty(notJson, async (body) => {
        expect(await postMeta(body)).toBe(400);
      }),
      { numRuns: 100 },
    );
  });

  it('answers a wrong or missing signature 401 and records nothing', async () => {
    const before = await db.inboxEvent.count();
    await fc.assert(
      fc.asyncProperty(mutated(metaPayloads), fc.string({ maxLength: 80 }), async (body, signature) => {
        expect(await postMeta(body, signature)).toBe(401);
      }),
      { numRuns: 60 },
    );
    expect(await db.inboxEvent.count()).toBe(before);
  });

  it('survives deep nesting and answers an oversize body 413, then still serves', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expect([200, 400]).toContain(await postMeta(deep));
    const deepObject = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
    expect([200, 400]).toContain(await postMeta(deepObject));
    const big = JSON.stringify({ object: 'whatsapp_business_account', pad: 'x'.repeat(LIMIT) });
    expect(await postMeta(big)).toBe(413);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    // A real message still goes through after all of it.
    expect(await postMeta(JSON.stringify(metaPayloads()[0]))).toBe(200);
  });
});

describe('POST /webhook/evolution under generated input', () => {
  it('answers any JSON with the right key 200, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          mutated(evolutionPayloads),
          mutated(evolutionPayloads, unstorableUnit),
        ),
        async (body) => {
          expect(await postEvolution(body)).toBe(200);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers a wrong key 401', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(evolutionPayloads), fc.string({ minLength: 1, maxLength: 40 }), async (body, key) => {
        fc.pre(key !== evolutionKey);
        const parsed = JSON.parse(body) as Record<string, unknown> | null;
        // The key may also ride in the body; make sure it is not the right one there either.
        fc.pre(!(parsed && typeof parsed === 'object' && (parsed as { apikey?: unknown }).apikey === evolutionKey));
        expect(await postEvolution(body, key)).toBe(401);
      }),
      { numRuns: 60 },
    );
  });
});
