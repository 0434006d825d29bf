import { recordInboxEvents, type Db, type NewInboxEvent, type RecordedInboxEvent } from '@zapflow/db';
import { errorFields, type Logger } from '@zapflow/logger';
import { inboxJobFor, MAX_EVENTS_PER_INBOX_JOB, type inboxQueue, type Producer } from '@zapflow/queue-contracts';
import type { ApiMetrics } from './metrics';

interface Waiting {
  events: NewInboxEvent[];
  resolve: (recorded: RecordedInboxEvent[]) => void;
  reject: (error: unknown) => void;
}

export interface InboxWriterOptions {
  /** Batches written at once; each holds a database connection while it commits. */
  maxInFlight: number;
  /** Events per batch; a single delivery larger than this is written alone, never split. */
  maxBatchEvents: number;
}

const key = (e: { provider: string; channelKey: string; dedupeKey: string }) =>
  `${e.provider}\u0000${e.channelKey}\u0000${e.dedupeKey}`;

/**
 * The commit point of every webhook: record the events in the durable inbox, then queue the new
 * ones. Deliveries that arrive while earlier ones are being written are written together, in one
 * INSERT and one job per batch (up to `MAX_EVENTS_PER_INBOX_JOB` events): an insert costs
 * PostgreSQL about as much for fifty rows as for one, and a job add costs the webhook about as
 * much as the rest of a delivery, so under load this multiplies what the webhook takes in, and at
 * low load a delivery is written at once (nothing waits for a timer). Each caller still gets its
 * answer only after its own events are committed, and learns which of them were new. A failure
 * to queue is not a failure to accept: the rows are there and the sweeper will queue them.
 */
export class InboxWriter {
  private waiting: Waiting[] = [];
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Db;
      inbox: Producer<typeof inboxQueue.schema>;
      metrics: ApiMetrics;
      logger: Logger;
    },
    private readonly options: InboxWriterOptions = { maxInFlight: 2, maxBatchEvents: 500 },
  ) {}

  /** Records one delivery's events; resolves with those that were new (the rest were duplicates). */
  record(events: NewInboxEvent[]): Promise<RecordedInboxEvent[]> {
    if (events.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ events, resolve, reject });
      this.pump();
    });
  }

  /**
   * Resolves once every delivery handed in so far is written and queued. A stop waits for it
   * before closing Redis: a client that hung up mid-request lets the server close while its
   * batch is still being written, and its events would wait for the sweeper.
   */
  async drain(): Promise<void> {
    // Waiting deliveries always have a write in flight ahead of them (pump fills every slot).
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  private pump(): void {
    while (this.writes.size < this.options.maxInFlight && this.waiting.length > 0) {
      const batch: Waiting[] = [];
      let size = 0;
      while (this.waiting.length > 0) {
        const next = this.waiting[0]!;
        if (batch.length > 0 && size + next.events.length > this.options.maxBatchEvents) break;
        batch.push(this.waiting.shift()!);
        size += next.events.length;
      }
      const write: Promise<void> = this.write(batch).finally(() => {
        this.writes.delete(write);
        this.pump();
      });
      this.writes.add(write);
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    // The same event twice in one batch (Meta retrying while the first copy is being written) is
    // inserted once; the later copy is a duplicate, as it would be a moment later.
    const unique = new Map<string, NewInboxEvent>();
    for (const waiting of batch) for (const e of waiting.events) if (!unique.has(key(e))) unique.set(key(e), e);
    let recorded: RecordedInboxEvent[];
    try {
      recorded = await recordInboxEvents(this.deps.db, [...unique.values()]);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    const fresh = new Map(recorded.map((r) => [key(r), r]));
    const jobs = [];
    for (let i = 0; i < recorded.length; i += MAX_EVENTS_PER_INBOX_JOB) {
      const events = recorded.slice(i, i + MAX_EVENTS_PER_INBOX_JOB);
      jobs.push(inboxJobFor(events.map((r) => ({ inboxEventId: r.id, kind: r.kind }))));
    }
    try {
      await this.deps.inbox.addBulk(jobs);
    } catch (error) {
      this.deps.metrics.enqueueFailures.inc(recorded.length);
      this.deps.logger.warn('inbox events stored but not queued; the sweeper will queue them', {
        inboxEventIds: recorded.map((r) => r.id),
        ...errorFields(error),
      });
    }
    for (const waiting of batch) {
      const mine: RecordedInboxEvent[] = [];
      for (const e of waiting.events) {
        const row = fresh.get(key(e));
        if (row) {
          mine.push(row);
          fresh.delete(key(e));
        }
      }
      waiting.resolve(mine);
    }
  }
}

/** Records a delivery's events through the writer and counts what was new and what was a duplicate. */
export async function recordAndQueue(
  deps: { writer: InboxWriter; metrics: ApiMetrics; logger: Logger },
  provider: string,
  events: NewInboxEvent[],
) {
  const recorded = await deps.writer.record(events);
  for (const kind of ['message', 'status'] as const) {
    const total = events.filter((e) => e.kind === kind).length;
    const fresh = recorded.filter((r) => r.kind === kind).length;
    if (fresh) deps.metrics.webhookEvents.inc({ provider, kind, outcome: 'new' }, fresh);
    if (total - fresh) deps.metrics.webhookEvents.inc({ provider, kind, outcome: 'duplicate' }, total - fresh);
  }
  for (const r of recorded) {
    deps.logger.debug('inbox event recorded', { provider, inboxEventId: r.id, kind: r.kind, providerId: r.dedupeKey });
  }
  return { new: recorded.length, duplicates: events.length - recorded.length };
}
