import { describe, expect, it } from '@jest/globals';
import { DatabaseError } from 'pg';
import type { Db } from './client';
import { coalescedRead, coalescedWrite } from './coalesced';

/** A read whose statements finish when the test says, recording the ids each one asked for. */
function heldRead() {
  const statements: { ids: string[]; finish: (error?: Error) => void }[] = [];
  const read = coalescedRead<string>(
    (_db, ids) =>
      new Promise((resolve, reject) => {
        statements.push({
          ids,
          finish: (error) =>
            error ? reject(error) : resolve(new Map(ids.filter((id) => id !== 'gone').map((id) => [id, `row ${id}`]))),
        });
      }),
    { maxInFlight: 1, maxBatch: 3, timeoutMs: 200 },
  );
  return { read, statements };
}

const db = {} as Db;
const settle = () => new Promise((r) => setImmediate(r));

describe('a read that concurrent callers share', () => {
  it('runs at once when nothing is in flight, and sends what waited as one statement', async () => {
    const { read, statements } = heldRead();
    const first = read(db, 'a');
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a']]);
    const waiting = ['b', 'c', 'gone'].map((id) => read(db, id));
    await settle();
    expect(statements).toHaveLength(1); // they wait for the slot
    statements[0]!.finish();
    expect(await first).toBe('row a');
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a'], ['b', 'c', 'gone']]);
    statements[1]!.finish();
    expect(await Promise.all(waiting)).toEqual(['row b', 'row c', undefined]);
  });

  it('splits what waited into statements of at most maxBatch ids, one after another', async () => {
    const { read, statements } = heldRead();
    const first = read(db, 'a');
    await settle();
    const rest = ['b', 'c', 'd', 'e'].map((id) => read(db, id));
    statements[0]!.finish();
    await first;
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a'], ['b', 'c', 'd']]);
    statements[1]!.finish();
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    statements[2]!.finish();
    expect(await Promise.all(rest)).toEqual(['row b', 'row c', 'row d', 'row e']);
  });

  it('gives up on a statement that hangs, and lets the next one run', async () => {
    const { read, statements } = heldRead();
    const hung = read(db, 'a');
    await settle();
    const next = read(db, 'b');
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a']]); // 'b' waits for the slot
    await expect(hung).rejects.toThrow(/took over 200 ms/);
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a'], ['b']]);
    statements[1]!.finish();
    expect(await next).toBe('row b');
  });

  it('reads an id asked for twice at once only once, and answers both', async () => {
    const { read, statements } = heldRead();
    const both = [read(db, 'a'), read(db, 'a')];
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a']]);
    statements[0]!.finish();
    expect(await Promise.all(both)).toEqual(['row a', 'row a']);
  });

  it('gives a failed statement’s error to every caller that shared it, and reads again after', async () => {
    const { read, statements } = heldRead();
    const shared = [read(db, 'a'), read(db, 'b')];
    await settle();
    expect(statements.map((s) => s.ids)).toEqual([['a', 'b']]);
    statements[0]!.finish(new Error('connection lost'));
    for (const p of shared) await expect(p).rejects.toThrow('connection lost');
    const again = read(db, 'a');
    await settle();
    statements[1]!.finish();
    expect(await again).toBe('row a'); // nothing cached, and the slot was given back
  });
});

describe('a write that concurrent callers share', () => {
  it('writes an id asked for twice at once once, for the first caller; the second gets nothing', async () => {
    const statements: { id: string; value: number }[][] = [];
    const write = coalescedWrite<{ id: string; value: number }, string>(async (_db, inputs) => {
      statements.push(inputs);
      return new Map(inputs.filter((i) => i.id !== 'gone').map((i) => [i.id, `wrote ${i.value}`]));
    });
    const answers = await Promise.all([
      write(db, { id: 'a', value: 1 }),
      write(db, { id: 'b', value: 2 }),
      write(db, { id: 'a', value: 3 }),
      write(db, { id: 'gone', value: 4 }),
    ]);
    expect(statements).toEqual([
      [
        { id: 'a', value: 1 },
        { id: 'b', value: 2 },
        { id: 'gone', value: 4 },
      ],
    ]);
    expect(answers).toEqual(['wrote 1', 'wrote 2', undefined, undefined]);
  });
});

describe('ids spelled in upper case', () => {
  // PostgreSQL answers a uuid in lower case, and the answers are keyed by its spelling.
  const pgSpelling = (id: string) => id.toLowerCase();
  const ID = 'A1B2C3D4-0000-4000-8000-00000000000F';

  it('find their row in a shared read', async () => {
    const read = coalescedRead<string>(async (_db, ids) => new Map(ids.map((id) => [pgSpelling(id), `row ${id}`])));
    expect(await read(db, ID)).toBe(`row ${pgSpelling(ID)}`);
  });

  it('find their answer in a shared write, and are one row with their lower-case spelling', async () => {
    const statements: string[][] = [];
    const write = coalescedWrite<{ id: string }, string>(async (_db, inputs) => {
      statements.push(inputs.map((i) => i.id));
      return new Map(inputs.map((i) => [pgSpelling(i.id), 'wrote']));
    });
    const answers = await Promise.all([write(db, { id: ID }), write(db, { id: pgSpelling(ID) })]);
    expect(statements).toEqual([[pgSpelling(ID)]]);
    expect(answers).toEqual(['wrote', undefined]);
  });
});

describe('a shared write whose statement fails', () => {
  const refused = () => new DatabaseError('duplicate key value violates unique constraint', 0, 'error');

  it('writes each input alone, so only the caller whose row is bad gets the error', async () => {
    const alone: string[] = [];
    const write = coalescedWrite<{ id: string }, string>(
      async (_db, inputs) => {
        if (inputs.some((i) => i.id === 'bad')) throw refused();
        return new Map(inputs.map((i) => [i.id, `wrote ${i.id}`]));
      },
      {
        alone: async (_db, input) => {
          alone.push(input.id);
          if (input.id === 'bad') throw refused();
          return `alone ${input.id}`;
        },
      },
    );
    const answers = await Promise.allSettled(['a', 'bad', 'b'].map((id) => write(db, { id })));
    expect(alone.sort()).toEqual(['a', 'b', 'bad']);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([
      'alone a',
      'duplicate key value violates unique constraint',
      'alone b',
    ]);
  });

  it('does not write alone what a statement that timed out held: its callers were told it failed', async () => {
    const alone: string[] = [];
    const write = coalescedWrite<{ id: string }, string>(
      (_db) => new Promise((_, reject) => setTimeout(() => reject(refused()), 150)),
      {
        timeoutMs: 50,
        alone: async (_db, input) => {
          alone.push(input.id);
          return 'late';
        },
      },
    );
    const answers = await Promise.allSettled([write(db, { id: 'a' }), write(db, { id: 'b' })]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
    await new Promise((r) => setTimeout(r, 200)); // the statement has failed by now
    expect(alone).toEqual([]);
  });

  it('passes on an error that is not PostgreSQL’s (a lost connection) to every caller', async () => {
    const write = coalescedWrite<{ id: string }, string>(async () => {
      throw new Error('Connection terminated unexpectedly');
    });
    const answers = await Promise.allSettled([write(db, { id: 'a' }), write(db, { id: 'b' })]);
    expect(answers.map((a) => a.status === 'rejected' && (a.reason as Error).message)).toEqual([
      'Connection terminated unexpectedly',
      'Connection terminated unexpectedly',
    ]);
  });
});
