import DataLoader from 'dataloader';
import type { Db } from './client';

export interface CoalescedReadOptions {
  /** Statements of this read running at once; a read asked for beyond them waits and joins. */
  maxInFlight: number;
  /** Ids per statement. */
  maxBatch: number;
  /**
   * How long a statement may hold its slot. One that hangs (a connection gone half-open) would
   * otherwise stall every read of its kind in the process, where alone it stalled one job: past
   * this, its callers get an error (their jobs retry) and the slot passes on. The statement
   * itself keeps its pool connection until PostgreSQL or the socket ends it.
   */
  timeoutMs: number;
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
  options: CoalescedReadOptions = { maxInFlight: 2, maxBatch: 100, timeoutMs: 30_000 },
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
  { maxInFlight, maxBatch, timeoutMs }: CoalescedReadOptions,
): DataLoader<string, V | undefined> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  return new DataLoader<string, V | undefined>(
    async (ids) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`a shared read of ${ids.length} ids took over ${timeoutMs} ms; its jobs will retry`)),
          timeoutMs,
        );
      });
      try {
        // Two callers may ask for the same id at once: the statement reads it once for both.
        const found = await Promise.race([readMany([...new Set(ids)]), timeout]);
        return ids.map((id) => found.get(id));
      } finally {
        clearTimeout(timer);
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
