import DataLoader from 'dataloader';
import type { Db } from './client';

export interface CoalescedReadOptions {
  /** Statements of this read running at once; a read asked for beyond them waits and joins. */
  maxInFlight: number;
  /** Ids per statement. */
  maxBatch: number;
}

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
 * `readMany` answers the ids it found; an id it leaves out reads as `undefined`.
 */
export function coalescedRead<V>(
  readMany: (db: Db, ids: string[]) => Promise<Map<string, V>>,
  options: CoalescedReadOptions = { maxInFlight: 2, maxBatch: 100 },
): (db: Db, id: string) => Promise<V | undefined> {
  const loaders = new WeakMap<Db, DataLoader<string, V | undefined>>();
  const loaderFor = (db: Db) => {
    let loader = loaders.get(db);
    if (!loader) {
      loader = newLoader((ids) => readMany(db, ids), options);
      loaders.set(db, loader);
    }
    return loader;
  };
  return (db, id) => loaderFor(db).load(id);
}

function newLoader<V>(
  readMany: (ids: string[]) => Promise<Map<string, V>>,
  { maxInFlight, maxBatch }: CoalescedReadOptions,
): DataLoader<string, V | undefined> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return new DataLoader<string, V | undefined>(
    async (ids) => {
      try {
        const found = await readMany([...ids]);
        return ids.map((id) => found.get(id));
      } finally {
        const next = waiting.shift();
        if (next)
          next(); // the slot passes to the next batch
        else inFlight--;
      }
    },
    {
      cache: false,
      maxBatchSize: maxBatch,
      // DataLoader calls this when a new batch opens; loads join it until `dispatch` runs. With
      // a slot free, it runs on the next tick (joined only by reads asked for in this one).
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
