import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from './index';

/** A logger as createLogger makes it, writing its JSON lines into an array instead of the console. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'test', level, format: 'json' });
  logger.clear().add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('createLogger', () => {
  it('does not even read the metadata of a level it would not print', () => {
    const { logger, lines } = capture('info');
    let reads = 0;
    logger.debug('quiet', {
      get messageId() {
        reads++;
        return 'm1';
      },
    });
    expect(reads).toBe(0);
    expect(lines).toHaveLength(0);
  });

  it('prints enabled levels, from children with their own metadata, and follows a level changed later', () => {
    const { logger, lines } = capture('info');
    logger.child({ jobId: 'j1' }).info('hello', { messageId: 'm1' });
    logger.child({ jobId: 'j2' }).debug('not yet');
    logger.level = 'debug';
    logger.child({ jobId: 'j3' }).debug('now', { token: 'secret' });
    const { warn } = logger; // detached, as in `.catch(logger.warn)`
    warn('detached');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', message: 'hello', jobId: 'j1', messageId: 'm1', service: 'test' }),
      expect.objectContaining({ level: 'debug', message: 'now', jobId: 'j3', token: '[redacted]' }),
      expect.objectContaining({ level: 'warn', message: 'detached' }),
    ]);
  });
});
