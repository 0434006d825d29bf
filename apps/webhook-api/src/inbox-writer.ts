import { recordInboxEvents, type NewInboxEvent } from '@zapflow/db';
import { errorFields } from '@zapflow/logger';
import type { InboxJob } from '@zapflow/queue-contracts';
import type { IngestDeps } from './ingest.service';

/**
 * The commit point of every webhook: record the events in the durable inbox (one statement; a
 * duplicate delivery records nothing), then queue the new ones. A failure to queue is not a
 * failure to accept: the rows are there and the sweeper will queue them.
 */
export async function recordAndQueue(
  deps: Pick<IngestDeps, 'db' | 'inbox' | 'metrics' | 'logger'>,
  provider: string,
  events: NewInboxEvent[],
) {
  const recorded = await recordInboxEvents(deps.db, events);
  for (const kind of ['message', 'status'] as const) {
    const total = events.filter((e) => e.kind === kind).length;
    const fresh = recorded.filter((r) => r.kind === kind).length;
    if (fresh) deps.metrics.webhookEvents.inc({ provider, kind, outcome: 'new' }, fresh);
    if (total - fresh) deps.metrics.webhookEvents.inc({ provider, kind, outcome: 'duplicate' }, total - fresh);
  }
  const jobs: InboxJob[] = recorded.map((r) => ({ inboxEventId: r.id, kind: r.kind }));
  try {
    await deps.inbox.addBulk(jobs);
  } catch (error) {
    deps.metrics.enqueueFailures.inc(jobs.length);
    deps.logger.warn('inbox events stored but not queued; the sweeper will queue them', {
      inboxEventIds: jobs.map((j) => j.inboxEventId),
      ...errorFields(error),
    });
  }
  for (const r of recorded) {
    deps.logger.debug('inbox event recorded', { provider, inboxEventId: r.id, kind: r.kind, providerId: r.dedupeKey });
  }
  return { new: recorded.length, duplicates: events.length - recorded.length };
}
