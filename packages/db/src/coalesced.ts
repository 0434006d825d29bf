import DataLoader from 'dataloader';
import { DatabaseError } from 'pg';
import type { Db } from './client';

export interface CoalescedOptions {
  /** Statements of this kind running at once; a call made beyond them waits and joins. */
  maxInFlight: number;
  /** Rows per statement. */
  maxBatch: number;
  /**
   * How long a statement may hold its slot. One that hangs (a connection gone half-open) would
   * otherwise stall every call of its kind in the process, where alone it stalled one job: past
   * this, its callers get an error (their jobs retry) and the slot passes on. The statement
   * itself keeps its pool connection until PostgreSQL or the socket ends it.
   */
  timeoutMs: number;
}

const DEFAULTS: CoalescedOptions = { maxInFlight: 2, maxBatch: 100, timeoutMs: 30_000 };

/**
 * A read by id that concurrent callers share, for the reads every message makes (a turn's
 * conversation, a send's message). At low load a read runs at once, as its own statement. While
 * `maxInFlight` of them are running, the ones asked for meanwhile wait and then go together, as
 * one statement for all their ids: under load a statement's round trip costs both PostgreSQL and
 * the worker more than the rows it reads, and in the pipeline's flood fifty jobs read at once.
 * A read never starts before it was asked for, so each caller sees a snapshot at least as fresh
 * as its own statement would have; if the statement fails, every caller that shared it gets the
 * error. Nothing is cached: every call reads.
 *
 * `readMany` answers the ids it found; an id it leaves out reads as `undefined`. An id asked for
 * twice at once is read once, and both callers get its row. Ids (uuids) are lower-cased first,
 * for both kinds: answers are keyed by the id as PostgreSQL spells it.
 */
export function coalescedRead<V>(
  readMany: (db: Db, ids: string[]) => Promise<Map<string, V>>,
  options: CoalescedOptions = DEFAULTS,
): (db: Db, id: string) => Promise<V | undefined> {
  const load = perDb<string, V>(async (db, ids) => {
    const found = await readMany(db, [...new Set(ids)]);
    return ids.map((id) => found.get(id));
  }, options);
  return (db, id) => load(db, id.toLowerCase());
}

/**
 * A write to one row by id that concurrent callers share, as `coalescedRead` does: the send's
 * claim and its record, and a plain turn's commit, which every message makes. `writeMany` writes
 * every input in one statement and answers the ids it wrote. The same id twice in one statement
 * is written once, for the first caller: the others get `undefined`, as when the row was not in a
 * state to be written, so two callers never both believe they claimed the same message.
 *
 * One bad row must not fail the callers it happened to share a statement with: when the
 * statement fails in PostgreSQL (a constraint, a deadlock, a refusal that undoes the statement),
 * each input is written again alone (`alone`, by default `writeMany` with that input only) and
 * each caller gets its own answer or error. Not after the statement timed out: its callers were
 * already told it failed, and their jobs' retries write it again.
 */
export function coalescedWrite<I extends { id: string }, V>(
  writeMany: (db: Db, inputs: I[]) => Promise<Map<string, V>>,
  {
    alone = async (db, input) => (await writeMany(db, [input])).get(input.id),
    ...options
  }: Partial<CoalescedOptions> & { alone?: (db: Db, input: I) => Promise<V | undefined> } = {},
): (db: Db, input: I) => Promise<V | undefined> {
  const load = perDb<I, V>(
    async (db, inputs, signal) => {
      const first = new Map<string, I>();
      for (const input of inputs) if (!first.has(input.id)) first.set(input.id, input);
      const unique = [...first.values()];
      const answer = (written: (id: string) => V | Error | undefined) =>
        inputs.map((input) => (first.get(input.id) === input ? written(input.id) : undefined));
      try {
        const written = await writeMany(db, unique);
        return answer((id) => written.get(id));
      } catch (error) {
        if (!(error instanceof DatabaseError) || unique.length === 1 || signal.aborted) throw error;
        const each = await Promise.allSettled(unique.map((input) => alone(db, input)));
        const byId = new Map(
          unique.map((input, i) => {
            const result = each[i]!;
            return [input.id, result.status === 'fulfilled' ? result.value : asError(result.reason)];
          }),
        );
        return answer((id) => byId.get(id));
      }
    },
    { ...DEFAULTS, ...options },
  );
  return (db, input) => load(db, { ...input, id: input.id.toLowerCase() });
}

/** DataLoader rejects the load whose answer is an Error. */
function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** One batching loader per database handle (tests run several in one process). */
function perDb<K, V>(
  run: (db: Db, keys: readonly K[], signal: AbortSignal) => Promise<(V | Error | undefined)[]>,
  options: CoalescedOptions,
): (db: Db, key: K) => Promise<V | undefined> {
  const loaders = new WeakMap<Db, DataLoader<K, V | undefined>>();
  return (db, key) => {
    let loader = loaders.get(db);
    if (!loader) {
      loader = newLoader((keys, signal) => run(db, keys, signal), options);
      loaders.set(db, loader);
    }
    return loader.load(key);
  };
}

function newLoader<K, V>(
  run: (keys: readonly K[], signal: AbortSignal) => Promise<(V | Error | undefined)[]>,
  { maxInFlight, maxBatch, timeoutMs }: CoalescedOptions,
): DataLoader<K, V | undefined> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return new DataLoader<K, V | undefined>(
    async (keys) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new AbortController();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut.abort();
          reject(
            new Error(`a shared statement for ${keys.length} rows took over ${timeoutMs} ms; its jobs will retry`),
          );
        }, timeoutMs);
      });
      try {
        return await Promise.race([run(keys, timedOut.signal), timeout]);
      } finally {
        clearTimeout(timer);
        const next = waiting.shift();
        if (next)
          next(); // the slot passes to the next batch
        else inFlight--;
      }
    },
    {
      // Nothing is cached, so the same key twice in one batch reaches `run` twice.
      cache: false,
      maxBatchSize: maxBatch,
      // DataLoader calls this when a new batch opens; loads join it until `dispatch` runs. With
      // a slot free, it runs on the next tick (joined only by calls made in this one).
      batchScheduleFn: (dispatch) => {
        if (inFlight < maxInFlight) {
          inFlight++;
          process.nextTick(dispatch);
        } else {
          waiting.push(dispatch);
        }
      },
    },
  );
}
