import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { deleteKeys, TEST_REDIS_URL, uniquePrefix } from '@zapflow/testkit';
import { SandboxSender, sandboxStreamKey } from './sandbox.sender';
import type { OutgoingContent } from './sender';

const prefix = uniquePrefix('sandbox');
let redis: Redis;
let sender: SandboxSender;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 3 });
  sender = new SandboxSender(redis, prefix);
});
afterAll(async () => {
  redis.disconnect();
  await deleteKeys(prefix);
});

async function entries(): Promise<Record<string, string>[]> {
  const raw = await redis.xrange(sandboxStreamKey(prefix), '-', '+');
  return raw.map(([, fields]) => {
    const record: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
    return record;
  });
}

describe('SandboxSender', () => {
  it('records type, a readable body and the whole content of each message', async () => {
    const buttons: OutgoingContent = {
      type: 'interactive',
      interactive: { kind: 'buttons', body: 'Confirma a entrega?', buttons: [{ id: 'yes', title: 'Sim' }] },
    };
    const text = await sender.send({
      channelExternalId: '1065',
      to: '5511988887777',
      content: { type: 'text', text: 'Oi!' },
    });
    await sender.send({ channelExternalId: '1065', to: '5511988887777', content: buttons });

    expect(text.providerMessageId).toMatch(/^wamid\.sandbox\./);
    expect(await entries()).toEqual([
      {
        id: text.providerMessageId,
        from: '1065',
        to: '5511988887777',
        type: 'text',
        body: 'Oi!',
        content: JSON.stringify({ type: 'text', text: 'Oi!' }),
      },
      expect.objectContaining({ type: 'interactive', body: 'Confirma a entrega?', content: JSON.stringify(buttons) }),
    ]);
  });

  it('records nothing for a read receipt', async () => {
    const before = (await entries()).length;
    await sender.markRead({ channelExternalId: '1065', from: '5511988887777', providerMessageId: 'w', typing: true });
    expect(await entries()).toHaveLength(before);
  });
});
