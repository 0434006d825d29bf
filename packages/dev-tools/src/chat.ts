import readline from 'node:readline';
import { Redis } from 'ioredis';
import { DEVELOPMENT_APP_SECRET } from '@zapflow/config';
import { sandboxStreamKey, signBody, webhookFixtures } from '@zapflow/whatsapp';

// `npm run chat`: be a WhatsApp user. Each line goes through the real path (a signed webhook
// into webhook-api, the queue, the worker, the engine, the sender); replies print as the sandbox
// sender records them. Needs `npm start` running in another terminal.

const env = process.env;
const port = env.PORT ?? '3000';
const webhookUrl = env.CHAT_WEBHOOK_URL ?? `http://127.0.0.1:${port}/webhook/whatsapp`;
const appSecret = env.WHATSAPP_APP_SECRET || DEVELOPMENT_APP_SECRET;
const prefix = env.QUEUE_PREFIX ?? 'zapflow';
const waId = env.CHAT_WA_ID ?? '5511987654321';
const profileName = env.CHAT_NAME ?? 'Maria Silva';
const interactive = Boolean(process.stdin.isTTY);
const phoneNumberId = env.CHAT_PHONE_NUMBER_ID ?? webhookFixtures.DEFAULT_PHONE_NUMBER_ID;

async function main() {
  if ((env.WHATSAPP_PROVIDER ?? 'sandbox') !== 'sandbox') {
    console.log('Note: WHATSAPP_PROVIDER is not sandbox, so replies go to WhatsApp and will not show here.');
  }
  const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const stream = sandboxStreamKey(prefix);
  // Replies are read from now on: earlier ones in the stream belong to earlier chats.
  let lastId = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  let pending = 0;
  let closed = false;
  const repliesArrived = () => waitUntil(() => pending === 0, 15_000);

  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: 'you  ' });
  const reader = redis.duplicate();
  void (async () => {
    while (!closed) {
      const result = await reader.xread('BLOCK', 1000, 'STREAMS', stream, lastId).catch(() => null);
      for (const [, entries] of result ?? []) {
        for (const [id, fields] of entries) {
          lastId = id;
          const record = Object.fromEntries(chunk(fields));
          if (record.to !== waId) continue;
          pending = Math.max(0, pending - 1);
          process.stdout.write(interactive ? `\r\x1b[32mbot\x1b[0m  ${record.body}\n` : `bot  ${record.body}\n`);
          if (!closed && interactive) rl.prompt(true);
        }
      }
    }
  })();

  console.log(`Chatting as ${profileName} (+${waId}) with the bot on ${webhookUrl}. Ctrl-D or /quit ends.`);
  if (interactive) rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/quit') break;
    if (!interactive) console.log(`you  ${text}`);
    if (text) {
      const status = await sendText(text);
      if (status !== 200) console.log(`(webhook answered ${status}; is \`npm start\` running?)`);
      else pending++;
    }
    // Piped input (a script, a demo) reads like a conversation: each line waits for its answer.
    if (!interactive) await repliesArrived();
    else rl.prompt();
  }
  await repliesArrived();
  closed = true;
  rl.close();
  reader.disconnect();
  redis.disconnect();
  console.log('');
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function sendText(text: string): Promise<number> {
  const body = JSON.stringify(
    webhookFixtures.messagesNotification({
      phoneNumberId,
      profileName,
      messages: [webhookFixtures.textMessage({ from: waId, body: text })],
    }),
  );
  try {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signBody(body, appSecret) },
      body,
    });
    return response.status;
  } catch {
    return 0;
  }
}

function chunk(fields: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) pairs.push([fields[i]!, fields[i + 1]!]);
  return pairs;
}

void main();
