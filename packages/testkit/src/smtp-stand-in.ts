import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on 127.0.0.1 that keeps every mail; `failNext(n)` rejects the next n. */
export class SmtpStandIn {
  readonly mails: ReceivedMail[] = [];
  private failures = 0;
  private server?: SMTPServer;

  get url(): string {
    const address = (this.server as unknown as { server: { address(): AddressInfo } } | undefined)?.server.address();
    if (!address) throw new Error('SmtpStandIn is not listening; call start() first');
    return `smtp://127.0.0.1:${address.port}`;
  }

  failNext(count: number): void {
    this.failures += count;
  }

  async start(): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.failures > 0) {
            this.failures--;
            const error = new Error('451 stand-in: try again later') as Error & { responseCode: number };
            error.responseCode = 451;
            return callback(error);
          }
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
