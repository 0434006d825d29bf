import { z } from 'zod';
import { broadcastProgress, requeueFailedSince, writeOutbox, type Db } from '@zapflow/db';
import type { Logger } from '@zapflow/logger';
import { SEND_PRIORITY, type Producer, type sendQueue } from '@zapflow/queue-contracts';
import { isBusinessScopedUserId, OutgoingContent, outboundRows, TemplateContent } from '@zapflow/whatsapp';
import { HttpError } from './http-error';

export interface OutboundApiDeps {
  db: Db;
  send: Producer<typeof sendQueue.schema>;
  logger: Logger;
  sending: {
    provider: 'cloud' | 'evolution' | 'sandbox';
    /** The business number that sends when a request names none (the only one configured). */
    defaultFrom?: string | undefined;
    maxTextChars: number;
  };
}

/**
 * A WhatsApp user: their number, international format, digits only (as Meta's `wa_id`), or the
 * business-scoped user ID Meta gives a user who hides their number (`US.13491208655302741918`).
 */
const WaId = z
  .string()
  .max(160)
  .refine((to) => /^\d{8,15}$/.test(to) || isBusinessScopedUserId(to), {
    message: 'international format, digits only, e.g. 5511987654321, or a business-scoped user ID (US.1349...)',
  });
const From = z.string().min(1).max(64).optional();
/** At most a week ahead: a delayed send is a pause, not a calendar. */
const DelayMs = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3600 * 1000);

/** What a sender takes, except that a text may be longer: it is split into several messages. */
const ApiContent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('text'),
    text: z
      .string()
      .min(1)
      .max(64 * 1024),
  }),
  ...OutgoingContent.options.slice(1), // every kind but text, which comes first
]);

export const MessageRequest = z
  .object({
    to: WaId,
    from: From,
    /** Shorthand for `{ content: { type: 'text', text } }`; a long text is split into several messages. */
    text: z
      .string()
      .min(1)
      .max(64 * 1024)
      .optional(),
    content: ApiContent.optional(),
    /** Sent instead when the contact is outside the 24-hour window. */
    windowTemplate: TemplateContent.optional(),
    delayMs: DelayMs.optional(),
  })
  .refine((r) => (r.text === undefined) !== (r.content === undefined), {
    message: 'give exactly one of text or content',
  });

export const BroadcastRequest = z.object({
  from: From,
  template: TemplateContent,
  recipients: z
    .array(z.union([WaId, z.object({ to: WaId, components: TemplateContent.shape.components })]))
    .min(1)
    .max(10_000),
  delayMs: DelayMs.optional(),
});

/**
 * Messages that do not come from a bot turn: one message (or a long text split in parts) through
 * `POST /api/messages`, and broadcasts. Rows first, then the jobs (the outbox): a crash between
 * the two is mended by the sweeper. Sending itself obeys every limit, like the bot's replies.
 */
export async function queueMessage(deps: OutboundApiDeps, request: z.infer<typeof MessageRequest>) {
  assertReachable(deps, [request.to]);
  const content = request.content ?? { type: 'text' as const, text: request.text! };
  const rows = outboundRows(content as OutgoingContent, {
    maxTextChars: deps.sending.maxTextChars,
    windowTemplate: request.windowTemplate,
  });
  const written = await writeOutbox(deps.db, {
    ...(await sendingChannel(deps, request.from)),
    messages: rows.map((row) => ({ waId: request.to, ...row })),
    sendAfter: request.delayMs ? new Date(Date.now() + request.delayMs) : undefined,
  });
  if (written.optedOut.length) {
    throw new HttpError(409, 'opted_out', `${request.to} opted out of messages; nothing was queued`);
  }
  await deps.send.addBulk(
    written.messages.map((m) => ({ messageId: m.id })),
    request.delayMs ? { delay: request.delayMs } : {},
  );
  return written.messages.map((m) => m.id);
}

/**
 * Only the Cloud API can send to a business-scoped user ID; through Evolution (a WhatsApp Web
 * session, which knows numbers) such a message could only fail, so it is refused up front.
 */
function assertReachable(deps: OutboundApiDeps, recipients: string[]): void {
  if (deps.sending.provider !== 'evolution') return;
  const bsuid = recipients.find(isBusinessScopedUserId);
  if (bsuid) {
    throw new HttpError(
      400,
      'invalid_recipient',
      `${bsuid} is a business-scoped user ID; Evolution API sends to numbers only`,
    );
  }
}

export async function queueBroadcast(
  deps: OutboundApiDeps,
  request: z.infer<typeof BroadcastRequest>,
  createdBy: string | undefined,
) {
  const byRecipient = new Map<string, TemplateContent>();
  for (const r of request.recipients) {
    const [to, components] = typeof r === 'string' ? [r, undefined] : [r.to, r.components];
    const template = { ...request.template, ...(components && { components }) };
    if (!byRecipient.has(to)) byRecipient.set(to, template);
  }
  assertReachable(deps, [...byRecipient.keys()]);
  const written = await writeOutbox(deps.db, {
    ...(await sendingChannel(deps, request.from)),
    messages: [...byRecipient].map(([waId, template]) => ({
      waId,
      ...outboundRows({ type: 'template', template }, { maxTextChars: deps.sending.maxTextChars })[0]!,
    })),
    sendAfter: request.delayMs ? new Date(Date.now() + request.delayMs) : undefined,
    broadcast: { template: request.template, createdBy },
  });
  // Behind the bot's replies: a broadcast never keeps a contact waiting for an answer.
  await deps.send.addBulk(
    written.messages.map((m) => ({ messageId: m.id })),
    { priority: SEND_PRIORITY.bulk, ...(request.delayMs ? { delay: request.delayMs } : {}) },
  );
  deps.logger.info('broadcast queued', {
    broadcastId: written.broadcastId,
    template: request.template.name,
    queued: written.messages.length,
    optedOut: written.optedOut.length,
  });
  return {
    id: written.broadcastId!,
    requested: request.recipients.length,
    queued: written.messages.length,
    skipped: {
      optedOut: written.optedOut.length,
      // Repeats, and a contact's second id (their number and their BSUID both listed).
      duplicates: request.recipients.length - byRecipient.size + written.sameContact,
    },
  };
}

export async function readBroadcast(deps: Pick<OutboundApiDeps, 'db'>, id: string) {
  const progress = await broadcastProgress(deps.db, id);
  if (!progress) throw new HttpError(404, 'not_found', `no broadcast ${id}`);
  const { broadcast, total, counts, pending } = progress;
  return {
    id: broadcast.id,
    from: broadcast.channel.externalId,
    template: broadcast.template,
    createdAt: broadcast.createdAt,
    requested: broadcast.requested,
    skipped: broadcast.skipped,
    total,
    counts,
    pending,
    done: pending === 0,
  };
}

/** Seed 004's replay: every send that failed in the last `hours` goes back to the outbox. */
export async function retryFailed(deps: OutboundApiDeps, hours: number) {
  const ids = await requeueFailedSince(deps.db, new Date(Date.now() - hours * 3600 * 1000), 10_000);
  for (const messageId of ids) await deps.send.addAgain({ messageId });
  deps.logger.info('failed sends queued again', { hours, requeued: ids.length });
  return ids;
}

/**
 * The business number a request sends from: the one it names, else the only one configured,
 * else the only one zapflow has seen. More than one and none named is a question only the caller
 * can answer.
 */
async function sendingChannel(deps: OutboundApiDeps, from: string | undefined) {
  // Channels are named by the provider whose webhooks created them; the sandbox stands in for Cloud.
  const provider = deps.sending.provider === 'evolution' ? 'evolution' : 'cloud';
  const named = from ?? deps.sending.defaultFrom;
  if (named) return { provider, channelExternalId: named };
  const known = await deps.db.channel.findMany({ where: { provider }, take: 2, select: { externalId: true } });
  if (known.length === 1) return { provider, channelExternalId: known[0]!.externalId };
  throw new HttpError(
    400,
    'from_required',
    'say which business number sends: "from" (a phone_number_id), or configure exactly one in WHATSAPP_PHONE_NUMBER_IDS',
  );
}
