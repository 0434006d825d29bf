/**
 * Turns an Evolution API webhook POST body into the inbound messages and the delivery statuses it
 * carries.
 *
 * `messages.upsert` carries messages and `messages.update` the statuses of messages zapflow sent
 * (see `status.ts`); every other event (send.message, connection.update, ...) is reported in
 * `ignored`. Each item of a delivery is read on its own: one that is malformed, or that zapflow
 * does not handle (groups, status posts, a `@lid` sender without a phone number), is reported
 * with its reason and the rest are still used.
 */
import type { z } from 'zod';
import { describeIssues, describeValue, guard, isRecord, isString, nonBlank } from '../read-helpers';
import { unixSecondsToDate } from '../webhook/timestamp';
import { jidKind, phoneOfJid } from './jid';
import { collectStatusUpdate, type EvolutionStatus, type StatusContext } from './status';
import {
  EVOLUTION_MESSAGE_TYPES,
  EVOLUTION_MESSAGES_UPDATE,
  EVOLUTION_MESSAGES_UPSERT,
  EVOLUTION_NON_CONTENT_KEYS,
  EVOLUTION_NOT_A_MESSAGE_KEYS,
  EVOLUTION_WRAPPER_KEYS,
  EvolutionButtonsResponseContent,
  EvolutionCaptionedContent,
  EvolutionContactCard,
  EvolutionContactsArrayContent,
  EvolutionInteractiveResponseContent,
  EvolutionListResponseContent,
  EvolutionLocationContent,
  EvolutionMessageData,
  EvolutionPollCreationContent,
  EvolutionTemplateButtonReplyContent,
  EvolutionTextContent,
  EvolutionWebhookBody,
  normalizeEvolutionEvent,
  type EvolutionMessageKey,
  type EvolutionTimestamp,
} from './webhook.schema';

export interface EvolutionInbound {
  /** The Evolution instance that received the message (zapflow's channel key for it). */
  instance: string;
  /** The contact's phone number, digits only (also on messages the business sent: the chat's other side). */
  waId: string;
  /** The contact's push name; never set on `fromMe` messages, whose push name is the business's own. */
  profileName?: string;
  /** Baileys' message id (`key.id`). */
  wamid: string;
  /** The Cloud API's type names where one fits (text, image, ...); otherwise Baileys' content key. */
  type: string;
  timestamp: Date;
  /** Human-readable summary used as conversation input; null when the message has no text to offer. */
  text: string | null;
  /** Sent from the business's own WhatsApp (phone, WhatsApp Web, or Evolution's send API). */
  fromMe: boolean;
  /** The message (`data` item) as Evolution sent it. */
  raw: Record<string, unknown>;
}

export interface EvolutionIgnored {
  reason: string;
  /**
   * True when the content could not be understood (a malformed body or message, a sender that
   * cannot be identified): worth counting and a warning. False for what is skipped by design
   * (other events, groups, status posts, deletions and edits).
   */
  unrecognized: boolean;
}

export interface EvolutionEvents {
  messages: EvolutionInbound[];
  /** Delivery statuses of messages zapflow sent (`fromMe`), from `messages.update`. */
  statuses: EvolutionStatus[];
  ignored: EvolutionIgnored[];
}

/** `now` stands for the time of receipt (statuses without a trustworthy time of their own). */
export function extractEvolutionEvents(body: unknown, now: Date = new Date()): EvolutionEvents {
  const events: EvolutionEvents = { messages: [], statuses: [], ignored: [] };
  // Everything below validates before it reads; this only guards against exotic inputs (a getter
  // or proxy that throws): a webhook body must never crash the caller.
  guard(
    (reason) => unrecognized(events, reason),
    'body',
    () => collectBody(body, now, events),
  );
  return events;
}

export type EvolutionHeaders = Record<string, string | string[] | undefined>;

/**
 * The `apikey` a delivery carries: the `apikey` header (set in the instance's webhook headers)
 * first, else the body's `apikey` field (the instance token, which Evolution includes only with
 * AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true). Undefined when there is none.
 */
export function evolutionApiKeyOf(body: unknown, headers: EvolutionHeaders = {}): string | undefined {
  try {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() !== 'apikey') continue;
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === 'string' && first !== '') return first;
    }
    if (isRecord(body) && typeof body.apikey === 'string' && body.apikey !== '') return body.apikey;
  } catch {
    // A hostile body or header bag: no key.
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

function collectBody(body: unknown, now: Date, events: EvolutionEvents): void {
  if (!isRecord(body)) return unrecognized(events, `body is ${describeValue(body)}, expected an object`);
  const envelope = EvolutionWebhookBody.safeParse(body);
  if (!envelope.success) return unrecognized(events, `body: ${describeIssues(envelope.error)}`);
  const { event, instance, data, date_time: dateTime } = envelope.data;

  switch (normalizeEvolutionEvent(event)) {
    case EVOLUTION_MESSAGES_UPSERT:
      return forEachItem(data, events, (item, path) => collectMessage(item, path, instance, events));
    case EVOLUTION_MESSAGES_UPDATE: {
      const context: StatusContext = { instance, dateTime, now };
      const sink = {
        status: (status: EvolutionStatus) => events.statuses.push(status),
        ignore: (reason: string, isUnrecognized: boolean) => ignore(events, reason, isUnrecognized),
      };
      return forEachItem(data, events, (item, path) => collectStatusUpdate(item, path, context, sink));
    }
    default:
      return skip(
        events,
        `event ${describeValue(event)} is not handled (only messages.upsert and messages.update are)`,
      );
  }
}

/** `data` is one item, or an array of them (older releases, some relays), each read on its own. */
function forEachItem(data: unknown, events: EvolutionEvents, collect: (item: unknown, path: string) => void): void {
  if (!Array.isArray(data)) return collect(data, 'data');
  if (data.length === 0) return unrecognized(events, 'data is an empty array');
  data.forEach((item: unknown, index) => {
    const path = `data[${index}]`;
    // One item throwing must not take the rest of the delivery down with it.
    guard(
      (reason) => unrecognized(events, reason),
      path,
      () => collect(item, path),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function collectMessage(item: unknown, path: string, instance: string, events: EvolutionEvents): void {
  if (!isRecord(item)) return unrecognized(events, `${path} is ${describeValue(item)}, expected an object`);
  const parsed = EvolutionMessageData.safeParse(item);
  if (!parsed.success) return unrecognized(events, `${path}: ${describeIssues(parsed.error)}`);
  const data = parsed.data;
  const where = `${path} (message ${data.key.id})`;
  const fromMe = data.key.fromMe === true;

  const sender = senderOf(data.key, fromMe);
  if ('reason' in sender) return ignore(events, `${where}: ${sender.reason}`, sender.unrecognized);

  const content = contentOf(data.message, data.messageType);
  if (content === null) {
    return skip(events, `${where}: no message content (a stub, e.g. a message that could not be decrypted)`);
  }
  if ((EVOLUTION_NOT_A_MESSAGE_KEYS as readonly string[]).includes(content.key)) {
    return skip(events, `${where}: ${content.key} is not a message from the contact (deletion, edit or setting)`);
  }

  const timestamp = timestampOf(data.messageTimestamp);
  if (timestamp === null) return unrecognized(events, `${where}: messageTimestamp is missing or not unix seconds`);

  const profileName = fromMe ? null : nonBlank(data.pushName);
  events.messages.push({
    instance,
    waId: sender.waId,
    ...(profileName !== null && { profileName }),
    wamid: data.key.id,
    // Own keys only: a content key like "constructor" must not find Object's.
    type: Object.hasOwn(EVOLUTION_MESSAGE_TYPES, content.key) ? EVOLUTION_MESSAGE_TYPES[content.key]! : content.key,
    timestamp,
    text: summarize(content.key, content.value, data.message ?? {}),
    fromMe,
    raw: item,
  });
}

type Sender = { waId: string } | { reason: string; unrecognized: boolean };

/**
 * The contact's phone number from the chat JID. For a `@lid` chat, `remoteJidAlt` names the chat's
 * other side whoever sent the message; `senderPn` names the *sender*, which on a message the
 * business sent is the business itself, so it is only read on messages from the contact.
 */
function senderOf(key: EvolutionMessageKey, fromMe: boolean): Sender {
  const kind = jidKind(key.remoteJid);
  switch (kind) {
    case 'phone':
      return { waId: phoneOfJid(key.remoteJid) ?? '' };
    case 'lid': {
      const phone = phoneOfJid(key.remoteJidAlt) ?? (fromMe ? null : phoneOfJid(key.senderPn));
      if (phone !== null) return { waId: phone };
      return {
        reason: `the chat is a @lid identity and neither remoteJidAlt nor senderPn gives its phone number`,
        unrecognized: true,
      };
    }
    case 'group':
      return { reason: 'group chat (@g.us): groups are not handled', unrecognized: false };
    case 'status':
      return { reason: 'status post (status@broadcast): not a chat', unrecognized: false };
    case 'broadcast':
      return { reason: 'broadcast list (@broadcast): not a chat', unrecognized: false };
    case 'newsletter':
      return { reason: 'channel (@newsletter): not a chat', unrecognized: false };
    case 'other': {
      const at = key.remoteJid.lastIndexOf('@');
      const server = at >= 0 ? `@${key.remoteJid.slice(at + 1)}` : 'no @server';
      return { reason: `remoteJid of an unknown kind (${describeValue(server)})`, unrecognized: true };
    }
  }
}

interface Content {
  /** The Baileys content key: conversation, imageMessage, ... */
  key: string;
  value: unknown;
}

const MAX_WRAPPER_DEPTH = 4;

/**
 * The content of a message: the key named by `messageType` when present, else the first content
 * key, after unwrapping ephemeral / view-once / document-with-caption envelopes.
 */
function contentOf(
  message: Record<string, unknown> | null | undefined,
  messageType: string | null | undefined,
): Content | null {
  let container: Record<string, unknown> | undefined = message ?? undefined;
  for (let depth = 0; container !== undefined && depth <= MAX_WRAPPER_DEPTH; depth++) {
    const keys = Object.keys(container).filter(
      (key) => !(EVOLUTION_NON_CONTENT_KEYS as readonly string[]).includes(key) && container?.[key] != null,
    );
    const wrapper = keys.find((key) => (EVOLUTION_WRAPPER_KEYS as readonly string[]).includes(key));
    if (wrapper !== undefined) {
      const inner: unknown = container[wrapper];
      container = isRecord(inner) && isRecord(inner.message) ? inner.message : undefined;
      continue;
    }
    const key =
      messageType && keys.includes(messageType)
        ? messageType
        : keys.find((candidate) => candidate === 'conversation' || candidate.endsWith('Message'));
    return key === undefined ? null : { key, value: container[key] };
  }
  return null;
}

/** The text a conversation should see for this message; null when there is nothing to read. */
function summarize(key: string, value: unknown, message: Record<string, unknown>): string | null {
  switch (key) {
    case 'conversation':
      return typeof value === 'string' ? nonBlank(value) : null;
    case 'extendedTextMessage':
    case 'reactionMessage':
      return read(EvolutionTextContent, value, (content) => nonBlank(content.text));
    case 'imageMessage':
    case 'videoMessage':
    case 'ptvMessage':
    case 'documentMessage':
      return read(EvolutionCaptionedContent, value, (content) => nonBlank(content.caption));
    case 'audioMessage':
      // Filled in by Evolution's OpenAI integration when speech-to-text is on.
      return typeof message.speechToText === 'string' ? nonBlank(message.speechToText) : null;
    case 'locationMessage':
    case 'liveLocationMessage':
      return read(EvolutionLocationContent, value, describeLocation);
    case 'contactMessage':
      return read(EvolutionContactCard, value, (content) => nonBlank(content.displayName));
    case 'contactsArrayMessage':
      return read(EvolutionContactsArrayContent, value, (content) => {
        const names = (content.contacts ?? []).map((card) => nonBlank(card.displayName)).filter(isString);
        return names.length > 0 ? names.join(', ') : nonBlank(content.displayName);
      });
    case 'buttonsResponseMessage':
      return read(EvolutionButtonsResponseContent, value, (content) =>
        nonBlank(content.selectedDisplayText ?? content.selectedButtonId),
      );
    case 'listResponseMessage':
      return read(EvolutionListResponseContent, value, (content) =>
        nonBlank(content.title ?? content.singleSelectReply?.selectedRowId),
      );
    case 'templateButtonReplyMessage':
      return read(EvolutionTemplateButtonReplyContent, value, (content) =>
        nonBlank(content.selectedDisplayText ?? content.selectedId),
      );
    case 'interactiveResponseMessage':
      return read(EvolutionInteractiveResponseContent, value, (content) => nonBlank(content.body?.text));
    case 'pollCreationMessage':
    case 'pollCreationMessageV2':
    case 'pollCreationMessageV3':
      return read(EvolutionPollCreationContent, value, (content) => nonBlank(content.name));
    default:
      return null;
  }
}

/** A content object of an unexpected shape yields no text rather than losing the message. */
function read<T extends z.ZodType>(
  schema: T,
  value: unknown,
  pick: (content: z.infer<T>) => string | null,
): string | null {
  const result = schema.safeParse(value);
  return result.success ? pick(result.data) : null;
}

/** "Name, Address (lat,lng)" like the Cloud API's, or just the coordinates for a dropped pin. */
function describeLocation(location: z.infer<typeof EvolutionLocationContent>): string | null {
  const label = [nonBlank(location.name), nonBlank(location.address), nonBlank(location.caption)]
    .filter(isString)
    .join(', ');
  const { degreesLatitude: lat, degreesLongitude: lng } = location;
  const coordinates = typeof lat === 'number' && typeof lng === 'number' ? `(${lat},${lng})` : '';
  return nonBlank([label, coordinates].filter(Boolean).join(' '));
}

function timestampOf(value: EvolutionTimestamp | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object') return unixSecondsToDate(value.high * 2 ** 32 + (value.low >>> 0));
  return unixSecondsToDate(value);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function ignore(events: EvolutionEvents, reason: string, isUnrecognized: boolean): void {
  events.ignored.push({ reason, unrecognized: isUnrecognized });
}

function unrecognized(events: EvolutionEvents, reason: string): void {
  ignore(events, reason, true);
}

function skip(events: EvolutionEvents, reason: string): void {
  ignore(events, reason, false);
}
