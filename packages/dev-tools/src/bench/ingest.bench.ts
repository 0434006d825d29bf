import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { ensureDatabase, migrate, quoteIdent } from '@zapflow/db';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';
import { deletePrefixedKeys, type BenchResult } from './result';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SECRET = 'bench-app-secret';

/**
 * The cheapest thing that does the webhook's job on the wire: Express reading the same JSON body
 * and answering 200. Run as a process of its own, like webhook-api, so both share the machine alike.
 */
const BARE_EXPRESS = `
const express = require('express');
const app = express();
app.post('/webhook/whatsapp', express.json({ limit: '4mb' }), (req, res) => res.sendStatus(200));
app.listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * webhook-api (the built deployable, against the real PostgreSQL and Redis) under autocannon with
 * 50 connections and a unique signed Meta notification per request, against bare Express on the
 * same bodies. Each side runs twice, alternating, and the runs are averaged. Targets: ratio ≥ 0.6,
 * p99 ≤ 50 ms.
 */
export async function ingestBench({
  redisUrl,
  databaseUrl,
  seconds = 10,
  connections = 50,
}: {
  redisUrl: string;
  /** A server URL; the benchmark creates and drops a database of its own there. */
  databaseUrl: string;
  seconds?: number;
  connections?: number;
}): Promise<BenchResult> {
  const dbName = `zapflow_bench_${randomUUID().slice(0, 8)}`;
  const dbUrl = new URL(databaseUrl);
  dbUrl.pathname = `/${dbName}`;
  const prefix = `zfbench-${randomUUID().slice(0, 8)}`;
  await ensureDatabase(dbUrl.toString());
  await migrate(dbUrl.toString());
  const [apiPort, barePort] = [await freePort(), await freePort()];
  const children: ChildProcess[] = [];
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      WHATSAPP_APP_SECRET: SECRET,
      ADMIN_PASSWORD: 'bench',
    };
    children.push(
      spawn(process.execPath, [path.join(ROOT, 'apps/webhook-api/dist/main.js')], {
        env: { ...env, PORT: String(apiPort) },
        stdio: 'ignore',
      }),
      spawn(process.execPath, ['-e', BARE_EXPRESS], {
        env: { PATH: env.PATH, PORT: String(barePort) },
        cwd: ROOT,
        stdio: 'ignore',
      }),
    );
    await Promise.all([waitForPort(apiPort), waitForPort(barePort)]);

    const api: autocannon.Result[] = [];
    const bare: autocannon.Result[] = [];
    for (let round = 0; round < 2; round++) {
      bare.push(await load(barePort, seconds, connections));
      api.push(await load(apiPort, seconds, connections));
    }
    const mean = (runs: autocannon.Result[], pick: (r: autocannon.Result) => number) =>
      runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
    const value = mean(api, (r) => r.requests.average);
    const baseline = mean(bare, (r) => r.requests.average);
    const errors = api.reduce((n, r) => n + r.errors + r.non2xx, 0);
    const p99 = mean(api, (r) => r.latency.p99);
    return {
      name: 'ingest',
      at: new Date().toISOString(),
      unit: 'requests/s (mean of 2 runs)',
      value: Math.round(value),
      baseline: { name: 'bare Express, JSON body, 200', value: Math.round(baseline) },
      ratio: Number((value / baseline).toFixed(3)),
      p50_ms: Number(mean(api, (r) => r.latency.p50).toFixed(2)),
      p99_ms: Number(p99.toFixed(2)),
      notes:
        `${connections} connections, ${seconds} s per run, unique signed notifications; ` +
        `webhook-api non-2xx or errors: ${errors}; bare p99 ${mean(bare, (r) => r.latency.p99).toFixed(1)} ms; ` +
        `targets: ratio >= 0.6, p99 <= 50 ms`,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await dropDatabase(databaseUrl, dbName);
    await deleteKeys(redisUrl, prefix);
  }
}

/** Unique signed notifications, one per request, as Meta would send them. */
function load(port: number, seconds: number, connections: number): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}/webhook/whatsapp`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const from = `55119${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
          const body = JSON.stringify(fx.messagesNotification({ messages: [fx.textMessage({ from, body: 'oi' })] }));
          return {
            ...request,
            body,
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, SECRET) },
          };
        },
      },
    ],
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/webhook/whatsapp`, { method: 'POST', body: '{}' });
      if (res.status > 0) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    await deletePrefixedKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
