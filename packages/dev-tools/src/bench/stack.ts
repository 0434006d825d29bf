import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { ensureDatabase, migrate, quoteIdent } from '@zapflow/db';
import { deletePrefixedKeys } from './result';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Node flags and environment docker-compose.prod.yml gives an app (keep it, this and the root
 * package.json's `start:worker` in step).
 */
const RUNTIME: Partial<Record<string, { flags: string[]; env: Record<string, string> }>> = {
  worker: {
    flags: ['--max-semi-space-size=32', '--max-old-space-size=192'],
    env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' },
  },
};

/**
 * What a benchmark runs against: a migrated database and a Redis prefix of its own, and the
 * built deployables as child processes (what production runs). `close()` kills them and removes
 * the database and the keys, whatever happened.
 */
export class BenchStack {
  readonly prefix = `zfbench-${randomUUID().slice(0, 8)}`;
  readonly databaseUrl: string;
  private readonly dbName = `zapflow_bench_${randomUUID().slice(0, 8)}`;
  private readonly children: { name: string; child: ChildProcess }[] = [];
  // node:http over kept-alive connections, not fetch: at 200 requests a second fetch cost the
  // load generator about 1 ms of CPU per request, taken from the cores the stack under test uses.
  private readonly agent = new Agent({ keepAlive: true });

  constructor(
    private readonly serverUrl: string,
    readonly redisUrl: string,
  ) {
    const url = new URL(serverUrl);
    url.pathname = `/${this.dbName}`;
    this.databaseUrl = url.toString();
  }

  async prepare(): Promise<this> {
    await ensureDatabase(this.databaseUrl);
    await migrate(this.databaseUrl);
    return this;
  }

  /** The environment every app of this stack shares; `extra` adds or overrides. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      ADMIN_PASSWORD: 'bench',
      WORKER_METRICS_PORT: '0',
      SCHEDULER_METRICS_PORT: '0',
      ...extra,
    };
  }

  /**
   * Starts a built app (`apps/<name>/dist/main.js`) as docker-compose.prod.yml runs it, or a
   * script given as `['-e', source]`.
   */
  spawn(app: 'webhook-api' | 'worker' | 'scheduler' | ['-e', string], env: Record<string, string>): ChildProcess {
    const args =
      typeof app === 'string' ? [...(RUNTIME[app]?.flags ?? []), path.join(ROOT, 'apps', app, 'dist', 'main.js')] : app;
    const runtimeEnv = typeof app === 'string' ? RUNTIME[app]?.env : undefined;
    const child = spawn(process.execPath, args, { env: { ...runtimeEnv, ...env }, cwd: ROOT, stdio: 'ignore' });
    this.children.push({ name: typeof app === 'string' ? app : 'script', child });
    return child;
  }

  /** The processes this stack started, by pid: what each is (`worker`, `webhook-api`, ...). */
  parts(): Map<number, string> {
    const parts = new Map<number, string>();
    for (const { name, child } of this.children) if (child.pid !== undefined) parts.set(child.pid, name);
    return parts;
  }

  /** POSTs a signed webhook to webhook-api on `port`; resolves with the HTTP status. */
  postWebhook(port: number, { body, signature }: { body: string; signature: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const headers = {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'X-Hub-Signature-256': signature,
      };
      const req = request({
        host: '127.0.0.1',
        port,
        path: '/webhook/whatsapp',
        method: 'POST',
        agent: this.agent,
        headers,
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    for (const { child } of this.children) child.kill('SIGKILL');
    const admin = new URL(this.serverUrl);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(this.dbName)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
    const redis = new Redis(this.redisUrl);
    try {
      await deletePrefixedKeys(redis, this.prefix);
    } finally {
      redis.disconnect();
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers HTTP on `port` (any status). */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
