import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export type AppName = 'webhook-api' | 'worker' | 'scheduler';

/** A free TCP port on 127.0.0.1, found by letting the kernel pick one. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * One of zapflow's deployables, started from its built output (`npm run build` first) the way a
 * container starts it: `node apps/<name>/dist/main.js`, configured by the environment alone.
 */
export class AppProcess {
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  /** Everything the process printed, for a failing test's message. */
  output = '';

  constructor(
    readonly name: AppName,
    private readonly env: Record<string, string>,
  ) {}

  start(): this {
    this.output = '';
    const child = spawn(process.execPath, [path.join(ROOT, 'apps', this.name, 'dist', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.child = child;
    return this;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and waits for the process to end; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    if (!this.child || !this.running) return this.child?.exitCode ?? null;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    try {
      return await this.exited!;
    } finally {
      clearTimeout(timer);
    }
  }

  async waitForExit(): Promise<number | null> {
    return this.exited ?? null;
  }
}

/** Resolves once `url` answers 200. */
export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
