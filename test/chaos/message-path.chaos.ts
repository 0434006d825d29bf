import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exec, execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDb, type Db } from '@zapflow/db';
import {
  AppProcess,
  createTestDatabase,
  deleteKeys,
  freePort,
  GraphStandIn,
  TEST_REDIS_URL,
  uniquePrefix,
  waitFor,
  waitForHttp,
  type TestDatabase,
} from '@zapflow/testkit';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';

// Chaos (`npm run test:chaos`, not part of `npm test`): messages from hundreds of contacts
// through the real deployables while workers are killed with SIGKILL, webhook-api restarts,
// Redis restarts (its keys gone: it keeps nothing on disk here) or is flushed, PostgreSQL stops
// for 30 s, and the Graph API stand-in answers 500s and 429s for a minute. The harness delivers
// like Meta: a webhook not answered 200 is delivered again until it is. Counted at the end:
// every acknowledged message answered (lost = 0), every reply accepted by the stand-in once
// (doubled = 0).

const secret = 'chaos-secret';
const PG_VERSION = execSync('ls /etc/postgresql').toString().trim().split('\n')[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The stand-in Graph API and the traffic run in this process: a service command run with
// execSync would freeze them. PostgreSQL takes seconds to start on a busy machine; past the
// worker's 5 s provider timeout, the requests the frozen stand-in reads afterwards are accepted
// after their senders gave up, and sent again: doubles the harness made, not the system.
const sh = promisify(exec);

async function redisRestart(): Promise<void> {
  await sh('redis-cli -h 127.0.0.1 shutdown nosave || true');
  await sh('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no');
  await sh('for i in $(seq 1 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done');
}
async function postgres(action: 'stop' | 'start'): Promise<void> {
  const running = await sh('pg_isready -h 127.0.0.1 -q').then(
    () => true,
    () => false,
  );
  if ((action === 'start') === running) return;
  await sh(
    `pg_ctlcluster --skip-systemctl-redirect ${PG_VERSION} main ${action}${action === 'stop' ? ' -m fast' : ''}`,
  );
  if (action === 'start') await sh('for i in $(seq 1 100); do pg_isready -h 127.0.0.1 -q && break; sleep 0.1; done');
}

interface Run {
  database: TestDatabase;
  db: Db;
  graph: GraphStandIn;
  prefix: string;
  base: string;
  api: AppProcess;
  workers: AppProcess[];
  others: AppProcess[];
  env: Record<string, string>;
}

async function startRun(name: string): Promise<Run> {
  const database = await createTestDatabase();
  const db = createDb({ url: database.url });
  const graph = await new GraphStandIn('token').start();
  const prefix = uniquePrefix(name);
  const port = await freePort();
  const env = {
    NODE_ENV: 'development',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'error',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
    WORKER_METRICS_PORT: '0',
    SCHEDULER_METRICS_PORT: '0',
    WHATSAPP_PROVIDER: 'cloud',
    WHATSAPP_APP_SECRET: secret,
    WHATSAPP_ACCESS_TOKEN: 'token',
    WHATSAPP_API_BASE_URL: graph.url,
    ADMIN_PASSWORD: 'x',
    DEBOUNCE_MS: '300',
    WORKER_LOCK_MS: '3000',
    WHATSAPP_TIMEOUT_MS: '5000',
    // A minute-long storm must not exhaust the retries: they reach past it.
    SEND_RETRY_DELAYS_MS: '2000,5000,15000,30000,60000',
    // A 130429 in the storm pauses the number; with the default minute the first one would pause
    // every send for the whole storm, and its 500s and 503s would meet almost nothing.
    NUMBER_BACKOFF_MS: '5000',
    SEND_RATE_PER_RECIPIENT_INTERVAL_MS: '50',
    INBOX_SWEEP_AFTER_MS: '5000',
    INBOX_SWEEP_EVERY_MS: '1000',
  };
  const api = new AppProcess('webhook-api', env).start();
  const workers = [new AppProcess('worker', env).start(), new AppProcess('worker', env).start()];
  const others = [new AppProcess('scheduler', env).start()];
  await waitForHttp(`http://127.0.0.1:${port}/ready`);
  return { database, db, graph, prefix, base: `http://127.0.0.1:${port}`, api, workers, others, env };
}

async function stopRun(run: Run | undefined): Promise<void> {
  if (!run) return;
  await Promise.all([run.api, ...run.workers, ...run.others].map((p) => p.stop('SIGTERM')));
  await run.graph.stop();
  await run.db.$disconnect();
  await run.database.drop();
  await deleteKeys(run.prefix);
}

/** Delivers like Meta: again and again, with a pause, until the webhook answers 200. */
async function deliver(base: string, body: string): Promise<number> {
  const signature = signBody(body, secret);
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${base}/webhook/whatsapp`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': signature },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status === 200) return attempt;
    } catch {
      // webhook-api restarting, or too slow: Meta would deliver again
    }
    await sleep(Math.min(5000, 250 * attempt));
  }
}

/** `count` messages from `contacts` contacts, each contact typing its messages in order. */
async function traffic(run: Run, count: number, contacts: number): Promise<{ deliveries: number }> {
  const people = Array.from({ length: contacts }, (_, i) => `55719${String(i).padStart(8, '0')}`);
  let deliveries = 0;
  let next = 0;
  await Promise.all(
    people.map(async (from, c) => {
      for (let i = c; i < count; i += contacts) {
        const body = JSON.stringify(
          fx.messagesNotification({ messages: [fx.textMessage({ from, body: `m${i} de ${from}` })] }),
        );
        // Spread the load over the chaos, about 25 messages/s in all: sends still flow when the
        // provider storm starts at 65 s (at 40/s a fast run had answered everything by then).
        const due = next++ * 40;
        await sleep(Math.max(0, due - (Date.now() - started)));
        const attempts = await deliver(run.base, body);
        deliveries += attempts;
      }
    }),
  );
  return { deliveries };
}
let started = Date.now();

async function settled(run: Run, count: number, timeoutMs = 600_000) {
  return waitFor(
    'every message answered and every reply sent',
    async () => {
      const [inbound, unanswered, unsent] = await Promise.all([
        run.db.message.count({ where: { direction: 'inbound' } }),
        run.db.message.count({ where: { direction: 'inbound', turnId: null } }),
        run.db.message.count({ where: { direction: 'outbound', status: { in: ['queued', 'sending'] } } }),
      ]);
      return inbound === count && unanswered === 0 && unsent === 0;
    },
    { timeoutMs, intervalMs: 1000 },
  ).catch(async (error: unknown) => {
    const [messages, inbox] = await Promise.all([
      run.db.message.groupBy({ by: ['direction', 'status'], _count: { _all: true } }),
      run.db.inboxEvent.findMany({
        where: { processedAt: null },
        select: { id: true, kind: true, sweepCount: true, receivedAt: true },
      }),
    ]);
    // With LOG_LEVEL=error, what the workers said is where a stuck event's story is.
    const logs = run.workers.map((w) => w.output.slice(-3000)).join('\n---\n');
    throw new Error(
      `${String(error)}; messages: ${JSON.stringify(messages)}; unprocessed inbox events: ${JSON.stringify(inbox)}; workers' last output:\n${logs}`,
    );
  });
}

/** Lost and doubled, counted at the stand-in against what the database says was sent. */
async function tally(run: Run, count: number, killsAt: number[] = []) {
  const [inbound, unanswered, outbound] = await Promise.all([
    run.db.message.count({ where: { direction: 'inbound' } }),
    run.db.message.count({ where: { direction: 'inbound', turnId: null } }),
    run.db.message.findMany({ where: { direction: 'outbound' }, select: { status: true, providerMessageId: true } }),
  ]);
  const recorded = new Set(outbound.map((m) => m.providerMessageId).filter(Boolean));
  const accepted = run.graph.accepted.filter((a) => a.body.type === 'text');
  const doubles = accepted.filter((a) => !recorded.has(a.wamid));
  // A worker SIGKILLed while its request was at the provider: the provider accepted the message
  // and the answer never arrived, the one case no sender can tell from a failure (like a timeout
  // after acceptance, docs/architecture.md). Counted apart from any other double.
  const killedMidSend = doubles.filter((a) => killsAt.some((k) => a.at >= k - 5000 && a.at <= k + 3000));
  return {
    acknowledged: count,
    lost: count - inbound + unanswered,
    replies: outbound.length,
    manual: outbound.filter((m) => m.status === 'manual').length,
    accepted: accepted.length,
    // An acceptance whose wamid no row holds: a second copy of a reply that was sent already.
    doubled: doubles.length - killedMidSend.length,
    answerLostToSigkill: killedMidSend.length,
    // When each unrecorded copy was accepted, in seconds from the start (for diagnosis).
    doubledAt: doubles.map((a) => Math.round((a.at - started) / 100) / 10),
  };
}

function report(name: string, result: object): void {
  mkdirSync(path.join(__dirname, '../../bench/results'), { recursive: true });
  writeFileSync(
    path.join(__dirname, `../../bench/results/chaos-${name}.last.json`),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  process.stdout.write(`chaos ${name}: ${JSON.stringify(result)}\n`);
}

describe('chaos', () => {
  let run: Run | undefined;
  beforeAll(async () => {
    // Whatever a failed run left behind, the services must be up for the next.
    await postgres('start');
  });
  afterAll(async () => {
    await postgres('start');
    await stopRun(run);
  });

  it('loses and doubles nothing through kills, restarts, a PostgreSQL outage and a provider storm', async () => {
    run = await startRun('chaos');
    const COUNT = 2000;
    started = Date.now();
    const load = traffic(run, COUNT, 300);
    const r = run;
    const events: string[] = [];
    const killsAt: number[] = [];
    const at = async (second: number, what: string, action: () => Promise<void> | void) => {
      await sleep(Math.max(0, second * 1000 - (Date.now() - started)));
      const begun = Date.now();
      if (what.startsWith('SIGKILL')) killsAt.push(begun);
      await action();
      // When it began and how long it took, to the tenth of a second (to read a double's timing).
      const tenths = (ms: number) => Math.round(ms / 100) / 10;
      events.push(`${tenths(begun - started)}s ${what} (${tenths(Date.now() - begun)} s)`);
    };
    const chaos = (async () => {
      for (let k = 0; k < 10; k++) {
        await at(3 + k * 5, `SIGKILL worker ${k % 2}`, async () => {
          await r.workers[k % 2]!.stop('SIGKILL');
          r.workers[k % 2]!.start();
        });
      }
    })();
    const outages = (async () => {
      await at(12, 'webhook-api restarted', async () => {
        await r.api.stop('SIGTERM');
        r.api.start();
      });
      await at(20, 'Redis restarted (every key gone)', () => redisRestart());
      await at(30, 'PostgreSQL stopped', () => postgres('stop'));
      await at(60, 'PostgreSQL started', () => postgres('start'));
      await at(65, 'Graph API: 500s and 429s for 60 s', () =>
        r.graph.stormFor(
          60_000,
          { kind: 'fail', status: 500 },
          { kind: 'fail', status: 429, body: { error: { message: 'throttled', code: 130429 } } },
          { kind: 'fail', status: 503, body: { error: { message: 'unavailable', code: 131016 } } },
        ),
      );
    })();
    const { deliveries } = await load;
    await Promise.all([chaos, outages]);
    await settled(r, COUNT);
    const result = {
      ...(await tally(r, COUNT, killsAt)),
      deliveries,
      refusedByStorm: r.graph.refusedByStorm,
      seconds: Math.round((Date.now() - started) / 1000),
      events,
    };
    report('main', result);
    expect(result).toMatchObject({ lost: 0, doubled: 0, manual: 0 });
    // The storm met sends (600–740 refused in the runs that set this): otherwise the provider's
    // failures were never tested.
    expect(result.refusedByStorm).toBeGreaterThanOrEqual(100);
    expect(result.accepted).toBe(result.replies + result.answerLostToSigkill);
  }, 900_000);

  it('recovers every acknowledged message when Redis is flushed mid-run', async () => {
    await stopRun(run);
    run = await startRun('chaos-flush');
    const COUNT = 500;
    started = Date.now();
    const load = traffic(run, COUNT, 100);
    await sleep(6000);
    await deleteKeys(run.prefix);
    const { deliveries } = await load;
    await settled(run, COUNT, 240_000);
    const result = { ...(await tally(run, COUNT)), deliveries, seconds: Math.round((Date.now() - started) / 1000) };
    report('flush', result);
    expect(result).toMatchObject({ lost: 0, doubled: 0, manual: 0 });
  }, 900_000);
});
