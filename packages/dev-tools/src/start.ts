import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createDb, migrate, seedCatalog } from '@zapflow/db';

// `npm start`: the whole stack on one machine. Creates and migrates the database, starts the
// three deployables with the same environment, prints where everything is, and stops them all
// gracefully on Ctrl-C.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const APPS = ['webhook-api', 'worker', 'scheduler'] as const;
const COLOURS = { 'webhook-api': 36, worker: 35, scheduler: 33 } as const;

async function main() {
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/zapflow';
  env.PORT ??= '3000';
  env.ADMIN_USER ??= 'admin';
  // One password for this run, shared with webhook-api so it can be printed below.
  env.ADMIN_PASSWORD ??= randomBytes(9).toString('base64url');

  try {
    await migrate(env.DATABASE_URL, (line) => console.log(`db: ${line}`));
    await seedIfEmpty(env.DATABASE_URL);
  } catch (error) {
    console.error(
      `zapflow: could not prepare the database at ${redact(env.DATABASE_URL)}: ${(error as Error).message}\n` +
        'Is PostgreSQL running? Set DATABASE_URL to point at it.',
    );
    process.exit(1);
  }

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    process.exit(code);
  };

  for (const app of APPS) {
    const child = spawn(process.execPath, [path.join(ROOT, 'apps', app, 'dist', 'main.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only this runner, which passes one SIGTERM on, so
      // each app gets exactly one signal and shuts down gracefully.
      detached: true,
    });
    const tag = `\x1b[${COLOURS[app]}m${app.padEnd(11)}\x1b[0m │ `;
    const relay = (out: NodeJS.WriteStream) => (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) out.write(tag + line + '\n');
    };
    child.stdout.on('data', relay(process.stdout));
    child.stderr.on('data', relay(process.stderr));
    child.once('exit', (code, signal) => {
      if (!stopping) {
        console.error(`zapflow: ${app} exited (${signal ?? code}); stopping the others`);
        void stopAll(1);
      }
    });
    children.set(app, child);
  }
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  // If this runner dies some other way, take the apps with it.
  process.on('exit', () => {
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGTERM');
  });

  const base = `http://127.0.0.1:${env.PORT}`;
  if (await ready(`${base}/ready`)) {
    console.log(
      [
        '',
        '  zapflow is running.',
        `  Webhook     ${base}/webhook/whatsapp   (point Meta's webhook at its public address)`,
        `  Bull Board  ${base}/admin/queues   (log in as ${env.ADMIN_USER} / ${env.ADMIN_PASSWORD})`,
        `  Metrics     ${base}/metrics`,
        `  Provider    ${env.WHATSAPP_PROVIDER ?? 'sandbox'}, engine ${env.OPENAI_API_KEY ? 'OpenAI' : 'built-in local'}`,
        '',
        '  Try it: in another terminal run `npm run chat` and write "oi" or "hello".',
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  } else {
    console.error(`zapflow: webhook-api did not become ready at ${base}/ready; see the logs above`);
  }
}

/** A first run gets the sample car-dealer stock, so the local engine has something to sell. */
async function seedIfEmpty(url: string): Promise<void> {
  const db = createDb({ url, poolSize: 1 });
  try {
    if ((await db.catalogItem.count()) === 0) {
      await seedCatalog(db);
      console.log('db: loaded the sample catalog (npm run db:seed reloads it)');
    }
  } finally {
    await db.$disconnect();
  }
}

async function ready(url: string): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

void main();
