/**
 * Reads the delivery statuses of the messages zapflow sent out of an Evolution `messages.update`
 * delivery, in zapflow's (the Cloud API's) vocabulary: sent, delivered, read, played, failed.
 *
 * Evolution has written this event three ways, all read here:
 *   v2:  data = { keyId, remoteJid, fromMe, status: "DELIVERY_ACK", messageId, instanceId, ... }
 *   v1:  data = { id, remoteJid, fromMe, status: "READ", datetime, owner } (the key spread out)
 *   raw: data = [{ key: { remoteJid, fromMe, id }, update: { status: 3 } }] (Baileys' own event)
 * (EvolutionAPI/evolution-api, `whatsapp.baileys.service.ts`, the `messages.update` handler.) An
 * instance backed by the Cloud API sends the v2 shape with Meta's names upper-cased (SENT, ...).
 */
import type { z } from 'zod';
import { describeIssues, describeValue, isRecord } from '../read-helpers';
import { jidKind, phoneOfJid } from './jid';
import {
  EVOLUTION_NUMERIC_STATUSES,
  EvolutionBaileysMessageUpdate,
  EvolutionMessageUpdate,
  type EvolutionMessageStatus,
} from './webhook.schema';

export const EVOLUTION_DELIVERY_STATUSES = ['sent', 'delivered', 'read', 'played', 'failed'] as const;
export type EvolutionDeliveryStatus = (typeof EVOLUTION_DELIVERY_STATUSES)[number];

export interface EvolutionStatus {
  /** The Evolution instance that sent the message (zapflow's channel key for it). */
  instance: string;
  /** WhatsApp's id of the message (`keyId`): what the send answered as `key.id`. */
  wamid: string;
  status: EvolutionDeliveryStatus;
  /** Evolution's own name for it (`DELIVERY_ACK`, `ERROR`, `FAILED`, ...), for logs and failure reasons. */
  providerStatus: string;
  timestamp: Date;
  /**
   * The recipient's phone number. When Evolution does not give one (a `@lid` chat without
   * `remoteJidAlt`, a Cloud-API-backed instance), the chat JID as given: a status applies to
   * its message by id, so it is kept rather than lost.
   */
  waId: string;
}

/** Where the statuses and the reasons for skipping items go (the caller's `EvolutionEvents`). */
export interface StatusSink {
  status(status: EvolutionStatus): void;
  ignore(reason: string, unrecognized: boolean): void;
}

export interface StatusContext {
  instance: string;
  /** The envelope's `date_time`. */
  dateTime: string | null | undefined;
  now: Date;
}

const STATUS_NAMES: Readonly<Record<string, EvolutionDeliveryStatus | null>> = {
  // Baileys' names.
  SERVER_ACK: 'sent',
  DELIVERY_ACK: 'delivered',
  READ: 'read',
  PLAYED: 'played',
  ERROR: 'failed',
  // Still on its way to WhatsApp's server: nothing to record yet.
  PENDING: null,
  // Meta's names, upper-cased, from a Cloud-API-backed instance.
  SENT: 'sent',
  DELIVERED: 'delivered',
  FAILED: 'failed',
  // A message deleted for everyone: not a delivery status.
  DELETED: null,
};

/** One item of a `messages.update` delivery (`data`, or one element of it). */
export function collectStatusUpdate(item: unknown, path: string, context: StatusContext, sink: StatusSink): void {
  if (!isRecord(item)) return sink.ignore(`${path} is ${describeValue(item)}, expected an object`, true);
  const update = readUpdate(item);
  if ('error' in update) return sink.ignore(`${path}: ${describeIssues(update.error)}`, true);
  const { id, remoteJid, remoteJidAlt, fromMe, status: providerStatus } = update;
  if (!id) return sink.ignore(`${path}: no message id (keyId)`, true);
  const where = `${path} (message ${id})`;

  if (!fromMe) {
    // Our own read receipts for the contact's messages, and the like: not about what we sent.
    return sink.ignore(`${where}: a status of a message from the contact, not one zapflow sent`, false);
  }
  if (providerStatus === null || providerStatus === undefined) {
    return sink.ignore(`${where}: no status (an edit or a poll vote)`, false);
  }
  const name = statusName(providerStatus);
  // Own keys only: "constructor" must not find Object's.
  if (name === undefined || !Object.hasOwn(STATUS_NAMES, name)) {
    return sink.ignore(`${where}: unknown status ${describeValue(String(providerStatus))}`, true);
  }
  const status = STATUS_NAMES[name];
  if (!status) return sink.ignore(`${where}: status ${name} is not a delivery status to record`, false);

  const recipient = recipientOf(remoteJid, remoteJidAlt);
  if ('reason' in recipient) return sink.ignore(`${where}: ${recipient.reason}`, false);

  sink.status({
    instance: context.instance,
    wamid: id,
    status,
    providerStatus: name,
    timestamp: timestampOf(update.datetime, context),
    waId: recipient.waId,
  });
}

interface Update {
  id: string | null | undefined;
  remoteJid: string;
  remoteJidAlt: string | null | undefined;
  fromMe: boolean;
  status: z.infer<typeof EvolutionMessageStatus> | null | undefined;
  datetime: number | null | undefined;
}

/** The item in one shape, whichever Evolution used. */
function readUpdate(item: Record<string, unknown>): Update | { error: z.ZodError } {
  if (isRecord(item.key) && isRecord(item.update)) {
    const raw = EvolutionBaileysMessageUpdate.safeParse(item);
    if (!raw.success) return { error: raw.error };
    const { key, update } = raw.data;
    return {
      id: key.id,
      remoteJid: key.remoteJid,
      remoteJidAlt: key.remoteJidAlt,
      fromMe: key.fromMe === true,
      status: update.status,
      datetime: undefined,
    };
  }
  const flat = EvolutionMessageUpdate.safeParse(item);
  if (!flat.success) return { error: flat.error };
  const data = flat.data;
  return {
    id: data.keyId ?? data.id,
    remoteJid: data.remoteJid,
    remoteJidAlt: data.remoteJidAlt,
    fromMe: data.fromMe === true,
    status: data.status,
    datetime: data.datetime,
  };
}

/** `SERVER_ACK` for `"server_ack"` or `2`; undefined for a number Baileys does not define. */
function statusName(status: string | number): string | undefined {
  if (typeof status === 'number') return EVOLUTION_NUMERIC_STATUSES[status];
  return status.trim().toUpperCase();
}

type Recipient = { waId: string } | { reason: string };

function recipientOf(remoteJid: string, remoteJidAlt: string | null | undefined): Recipient {
  switch (jidKind(remoteJid)) {
    case 'phone':
      return { waId: phoneOfJid(remoteJid) ?? remoteJid };
    case 'group':
      return { reason: 'group chat (@g.us): groups are not handled' };
    case 'status':
      return { reason: 'status post (status@broadcast): not a chat' };
    case 'broadcast':
      return { reason: 'broadcast list (@broadcast): not a chat' };
    case 'newsletter':
      return { reason: 'channel (@newsletter): not a chat' };
    default:
      return { waId: phoneOfJid(remoteJidAlt) ?? remoteJid };
  }
}

/** A shifted `date_time` is further from our clock than this (a webhook is delivered in seconds). */
const PLAUSIBLE_PAST_MS = 10 * 60_000;
const PLAUSIBLE_FUTURE_MS = 60_000;

/**
 * When the status changed. v1 stamps the item with `datetime` (epoch milliseconds). v2 has only
 * the envelope's `date_time`, which Evolution writes as the server's local time with a `Z`
 * (`new Date(Date.now() - tzoffset).toISOString()` in its `sendDataWebhook`): right on a server
 * running in UTC, hours off elsewhere. A `date_time` further from now than a delivery could take
 * is such a shifted one, and the time of receipt is the better answer.
 */
function timestampOf(datetime: number | null | undefined, context: StatusContext): Date {
  // Epoch milliseconds are the same in every timezone (and past 2001 they exceed 1e12).
  if (typeof datetime === 'number' && Number.isFinite(datetime) && datetime > 1e12) return new Date(datetime);
  const stamped = typeof context.dateTime === 'string' ? Date.parse(context.dateTime) : NaN;
  const now = context.now.getTime();
  if (Number.isNaN(stamped) || stamped < now - PLAUSIBLE_PAST_MS || stamped > now + PLAUSIBLE_FUTURE_MS) {
    return new Date(now);
  }
  return new Date(stamped);
}
