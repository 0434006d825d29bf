import { UnrecoverableError } from 'bullmq';
import {
  applyDeliveryStatus,
  DELIVERY_STATUSES,
  getInboxEvent,
  markInboxProcessed,
  type Db,
  type DeliveryStatus,
} from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { StoredStatusUpdate } from '@zapflow/whatsapp';

export interface StatusDeps {
  db: Db;
  logger: Logger;
}

/** Thrown while no outbound message carries the wamid yet (the status raced our own write). */
export class StatusTargetNotFound extends Error {
  override name = 'StatusTargetNotFound';
}

/**
 * Applies a delivery status (sent, delivered, read, played, failed) to the outbound message it
 * names. Statuses only move a message forward; a repeated or late one changes nothing.
 */
export async function handleStatus(deps: StatusDeps, inboxEventId: string): Promise<void> {
  const event = await getInboxEvent(deps.db, inboxEventId);
  if (!event) throw new UnrecoverableError(`inbox event ${inboxEventId} does not exist`);
  if (event.processedAt) return;
  const parsed = StoredStatusUpdate.safeParse(event.payload);
  if (!parsed.success) throw new UnrecoverableError(`inbox event ${inboxEventId} holds no readable status`);
  const s = parsed.data;
  const log = deps.logger.child({ inboxEventId, providerMessageId: s.wamid, status: s.status });

  if (!(DELIVERY_STATUSES as readonly string[]).includes(s.status)) {
    log.info('status not tracked; recorded only');
    await markInboxProcessed(deps.db, inboxEventId);
    return;
  }
  const channel = await deps.db.channel.findUnique({
    where: { provider_externalId: { provider: event.provider, externalId: s.phoneNumberId } },
  });
  const firstError = s.errors[0];
  const applied =
    channel !== null &&
    (await applyDeliveryStatus(deps.db, {
      channelId: channel.id,
      providerMessageId: s.wamid,
      status: s.status as DeliveryStatus,
      at: s.timestamp,
      error: firstError
        ? { code: String(firstError.code), message: [firstError.title, firstError.details].filter(Boolean).join(': ') }
        : undefined,
    }));
  if (!applied) {
    // Meta can report `sent` before our worker has stored the wamid it got back; retrying a few
    // times covers that. After the last attempt the event stays in the inbox, unprocessed.
    throw new StatusTargetNotFound(`no outbound message with id ${s.wamid} (yet)`);
  }
  await markInboxProcessed(deps.db, inboxEventId);
  log.debug('status applied');
}
