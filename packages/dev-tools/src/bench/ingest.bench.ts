import autocannon from 'autocannon';
import { signBody, webhookFixtures as fx } from '@zapflow/whatsapp';
import { cpuSnapshot, cpuSpent } from './cpu-by-process';
import type { BenchResult } from './result';
import { BenchStack, freePort, waitForPort } from './stack';
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
 * same bodies. Each side warms up unmeasured, then runs twice, alternating, and the runs are
 * averaged. Targets: ratio ≥ 0.6, p99 ≤ 50 ms.
 */
export async function ingestBench({
  redisUrl,
  databaseUrl,
  seconds = 10,
  warmUpSeconds = 3,
  connections = 50,
}: {
  redisUrl: string;
  /** A server URL; the benchmark creates and drops a database of its own there. */
  databaseUrl: string;
  seconds?: number;
  warmUpSeconds?: number;
  connections?: number;
}): Promise<BenchResult> {
  const stack = await new BenchStack(databaseUrl, redisUrl).prepare();
  try {
    const [apiPort, barePort] = [await freePort(), await freePort()];
    stack.spawn('webhook-api', stack.env({ WHATSAPP_APP_SECRET: SECRET, PORT: String(apiPort) }));
    const bareChild = stack.spawn(['-e', BARE_EXPRESS], { PATH: process.env.PATH ?? '', PORT: String(barePort) });
    await Promise.all([waitForPort(apiPort), waitForPort(barePort)]);
    const parts = stack.parts().set(process.pid, 'autocannon');
    if (bareChild.pid !== undefined) parts.set(bareChild.pid, 'bare Express');

    const api: autocannon.Result[] = [];
    const bare: autocannon.Result[] = [];
    const apiCpu: Record<string, number> = {};
    const bareCpu: Record<string, number> = {};
    const measured = async (port: number, runs: autocannon.Result[], cpu: Record<string, number>) => {
      const before = cpuSnapshot(parts);
      runs.push(await load(port, seconds, connections));
      for (const [part, ms] of Object.entries(cpuSpent(before, cpuSnapshot(parts)))) cpu[part] = (cpu[part] ?? 0) + ms;
    };
    // Unmeasured first: the JIT, the pools and the prepared statements warm up on both sides.
    await load(barePort, warmUpSeconds, connections);
    await load(apiPort, warmUpSeconds, connections);
    for (let round = 0; round < 2; round++) {
      await measured(barePort, bare, bareCpu);
      await measured(apiPort, api, apiCpu);
    }
    const mean = (runs: autocannon.Result[], pick: (r: autocannon.Result) => number) =>
      runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
    const value = mean(api, (r) => r.requests.average);
    const baseline = mean(bare, (r) => r.requests.average);
    const errors = api.reduce((n, r) => n + r.errors + r.non2xx, 0);
    return {
      name: 'ingest',
      at: new Date().toISOString(),
      unit: 'requests/s (mean of 2 runs)',
      value: Math.round(value),
      baseline: { name: 'bare Express, JSON body, 200', value: Math.round(baseline) },
      ratio: Number((value / baseline).toFixed(3)),
      p50_ms: Number(mean(api, (r) => r.latency.p50).toFixed(2)),
      p99_ms: Number(mean(api, (r) => r.latency.p99).toFixed(2)),
      notes:
        `${connections} connections, ${seconds} s per run, unique signed notifications; ` +
        `webhook-api non-2xx or errors: ${errors}; bare p99 ${mean(bare, (r) => r.latency.p99).toFixed(1)} ms; ` +
        `CPU per request, webhook-api runs: ${perRequest(apiCpu, api)}; bare runs: ${perRequest(bareCpu, bare)}; ` +
        `targets: ratio >= 0.6, p99 <= 50 ms`,
    };
  } finally {
    await stack.close();
  }
}

/** CPU µs per request each part spent over some runs, busiest first, from /proc (Linux only). */
function perRequest(cpu: Record<string, number>, runs: autocannon.Result[]): string {
  const requests = runs.reduce((n, r) => n + r.requests.total, 0);
  const parts = Object.entries(cpu).sort(([, a], [, b]) => b - a);
  if (parts.length === 0 || requests === 0) return 'not measured (no /proc)';
  return parts.map(([part, ms]) => `${part} ${Math.round((ms * 1000) / requests)} µs`).join(', ');
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
