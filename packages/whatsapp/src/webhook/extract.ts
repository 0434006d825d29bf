/**
 * Turns a Meta webhook POST body into the inbound messages and delivery statuses it carries.
 *
 * Each entry, change, message, status and contact is validated on its own: one malformed item is
 * reported in `unrecognized` and the rest of the delivery is still used. Meta does not resend a
 * delivery we acknowledged, and resending one we rejected would not fix it, so skipping is the only
 * useful outcome for an item we cannot read.
 */
import { isBusinessScopedUserId } from '../cloud-api.payload';
import { describeIssues, describeValue, guard, isRecord, isString, nonBlank } from '../read-helpers';
import {
  Contact,
  isKnownMessage,
  isKnownMessageType,
  KnownMessage,
  MESSAGES_FIELD,
  MessageEchoesValueShell,
  MessageEnvelope,
  MessagesChangeValueShell,
  MessageStatus,
  MetaError,
  OtherMessage,
  SMB_MESSAGE_ECHOES_FIELD,
  STANDBY_FIELD,
  StandbyValueShell,
  WHATSAPP_BUSINESS_ACCOUNT_OBJECT,
  type Message,
  type SharedContact,
} from './notification.schema';
import { unixSecondsToDate } from './timestamp';

export interface InboundMessage {
  phoneNumberId: string;
  displayPhoneNumber?: string;
  /** The sender's phone number (`from`), or their business-scoped user ID when Meta withholds the number. */
  waId: string;
  /** Their business-scoped user ID (`from_user_id`), when Meta sent one: the same as `waId` without a number. */
  userId?: string;
  profileName?: string;
  wamid: string;
  type: string;
  timestamp: Date;
  /** Human-readable summary used as conversation input; null when the message has no text to offer. */
  text: string | null;
  raw: Record<string, unknown>;
  /**
   * Sent by the business itself from the WhatsApp Business app (`smb_message_echoes`): `waId` is
   * then the user it went to. Stored in the conversation as already sent, never answered.
   */
  fromMe?: true;
  /**
   * Seen while another app on the number handles the conversation (Meta Business Agent; the
   * `standby` field): kept in the conversation as history, never answered, since answering
   * would take the conversation over.
   */
  observed?: true;
}

export interface StatusUpdate {
  phoneNumberId: string;
  wamid: string;
  status: string;
  timestamp: Date;
  recipientId: string;
  errors: { code: number; title?: string; message?: string; details?: string }[];
  raw: Record<string, unknown>;
}

/** Content Meta documents that zapflow does not act on, by design: logged, counted, never stored. */
export interface SkippedContent {
  /**
   * What it was, from a fixed set (safe as a metric label): the webhook field of another
   * subscription (`message_template_status_update`, `account_update`, ...), `group_message`,
   * `standby_status` (statuses of messages another app on the number sent), or `account_error`
   * for the errors Meta reports about the account or app rather than a message.
   */
  what: string;
  /** For the log line: where in the delivery, and what it said. */
  detail: string;
  /**
   * How loudly to log it: `error` for an account error, `warn` for notices about the account or
   * number (a ban, a review, a quality or security change), `info` for the rest.
   */
  level: 'info' | 'warn' | 'error';
  /** The business number it concerns, when the delivery says (for WHATSAPP_PHONE_NUMBER_IDS). */
  phoneNumberId?: string;
}

export interface ExtractedEvents {
  messages: InboundMessage[];
  statuses: StatusUpdate[];
  skipped: SkippedContent[];
  /** changes/items we could not understand (counted and logged by the caller, never retried) */
  unrecognized: { reason: string }[];
}

/** What a change contributes to every event extracted from it. */
interface ChangeContext {
  path: string;
  phoneNumberId: string;
  displayPhoneNumber: string | undefined;
  contacts: Contact[];
}

export function extractEvents(body: unknown): ExtractedEvents {
  const events: ExtractedEvents = { messages: [], statuses: [], skipped: [], unrecognized: [] };
  // The walk below validates before it reads, so this only guards against exotic inputs (a getter
  // or proxy that throws): the contract is that a webhook body can never crash the caller.
  guard(
    (reason) => reject(events, reason),
    'body',
    () => collectNotification(body, events),
  );
  return events;
}

function collectNotification(body: unknown, events: ExtractedEvents): void {
  if (!isRecord(body)) return reject(events, `body is ${describeValue(body)}, expected an object`);
  if (body.object !== WHATSAPP_BUSINESS_ACCOUNT_OBJECT) {
    return reject(events, `object is ${describeValue(body.object)}, expected "${WHATSAPP_BUSINESS_ACCOUNT_OBJECT}"`);
  }
  if (!Array.isArray(body.entry)) return reject(events, `entry is ${describeValue(body.entry)}, expected an array`);
  // A delivery that yields nothing at all is worth a log line rather than silence.
  if (body.entry.length === 0) return reject(events, 'entry is empty');
  body.entry.forEach((entry: unknown, index) => collectEntry(entry, `entry[${index}]`, events));
}

function collectEntry(entry: unknown, path: string, events: ExtractedEvents): void {
  if (!isRecord(entry)) return reject(events, `${path} is ${describeValue(entry)}, expected an object`);
  if (!Array.isArray(entry.changes)) {
    return reject(events, `${path}.changes is ${describeValue(entry.changes)}, expected an array`);
  }
  if (entry.changes.length === 0) return reject(events, `${path}.changes is empty`);
  entry.changes.forEach((change: unknown, index) => {
    const changePath = `${path}.changes[${index}]`;
    // One change throwing must not take the other changes of the delivery down with it.
    guard(
      (reason) => reject(events, reason),
      changePath,
      () => collectChange(change, changePath, events),
    );
  });
}

function collectChange(change: unknown, path: string, events: ExtractedEvents): void {
  if (!isRecord(change)) return reject(events, `${path} is ${describeValue(change)}, expected an object`);
  if (change.field === SMB_MESSAGE_ECHOES_FIELD) return collectEchoes(change.value, `${path}.value`, events);
  if (change.field === STANDBY_FIELD) return collectStandby(change.value, `${path}.value`, events);
  if (change.field !== MESSAGES_FIELD) {
    if (isOtherDocumentedField(change.field)) {
      return skip(events, {
        what: change.field,
        detail: `${path}: ${change.field} ${describeNotice(change.value)}`,
        level: NOTICES_NEEDING_ATTENTION.has(change.field) ? 'warn' : 'info',
        ...phoneNumberIdOf(change.value),
      });
    }
    return reject(events, `${path}: field ${describeValue(change.field)} is not handled`);
  }
  const shell = MessagesChangeValueShell.safeParse(change.value);
  if (!shell.success) return reject(events, `${path}.value: ${describeIssues(shell.error)}`);

  const { metadata, contacts = [], messages = [], statuses = [], errors = [] } = shell.data;
  if (messages.length + statuses.length + errors.length === 0) {
    return reject(events, `${path}.value has no messages, statuses or errors`);
  }
  const context: ChangeContext = {
    path: `${path}.value`,
    phoneNumberId: metadata.phone_number_id,
    displayPhoneNumber: metadata.display_phone_number,
    contacts: parseContacts(contacts, `${path}.value`, events),
  };
  messages.forEach((message, index) => collectMessage(message, index, context, events));
  statuses.forEach((status, index) => collectStatus(status, index, context, events));
  errors.forEach((error, index) => reportSystemError(error, index, context, events));
}

/** Contacts only supply profile names, so a malformed one is reported and otherwise ignored. */
function parseContacts(contacts: unknown[], path: string, events: ExtractedEvents): Contact[] {
  const parsed: Contact[] = [];
  contacts.forEach((contact, index) => {
    const result = Contact.safeParse(contact);
    if (result.success) parsed.push(result.data);
    else reject(events, `${path}.contacts[${index}]: ${describeIssues(result.error)}`);
  });
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function collectMessage(
  raw: unknown,
  index: number,
  context: ChangeContext,
  events: ExtractedEvents,
  observed = false,
): void {
  const path = `${context.path}.messages[${index}]`;
  const parsed = parseMessage(raw);
  if (!parsed.success) return reject(events, `${path}: ${parsed.reason}`);
  const { message, record } = parsed;
  if (skippedInGroup(events, path, message, context.phoneNumberId)) return;

  // Both are guaranteed by the schema (hasSender, UnixTimestamp); checked again for the compiler.
  const waId = message.from ?? message.from_user_id;
  const timestamp = unixSecondsToDate(message.timestamp);
  if (waId === undefined || timestamp === null) return reject(events, `${path}: no sender or timestamp`);

  const profileName = profileNameOf(message, context.contacts);
  events.messages.push({
    phoneNumberId: context.phoneNumberId,
    ...(context.displayPhoneNumber !== undefined && { displayPhoneNumber: context.displayPhoneNumber }),
    waId,
    ...(message.from_user_id !== undefined && { userId: message.from_user_id }),
    ...(profileName !== undefined && { profileName }),
    wamid: message.id,
    type: message.type,
    timestamp,
    text: summarizeMessage(message),
    raw: record,
    ...(observed && { observed: true as const }),
  });
}

/**
 * What the business sent from the WhatsApp Business app, so that the conversation holds both
 * sides of what was said. An echo is read as a message from the user it went to (`to`, or
 * `to_user_id` for a username user), flagged `fromMe`.
 */
function collectEchoes(value: unknown, path: string, events: ExtractedEvents): void {
  const shell = MessageEchoesValueShell.safeParse(value);
  if (!shell.success) return reject(events, `${path}: ${describeIssues(shell.error)}`);
  const { metadata, message_echoes: echoes } = shell.data;
  echoes.forEach((raw, index) => {
    const echoPath = `${path}.message_echoes[${index}]`;
    if (!isRecord(raw)) return reject(events, `${echoPath} is ${describeValue(raw)}, expected an object`);
    collectEcho({ ...raw, ...recipientAsSender(raw.to, raw.to_user_id) }, raw, echoPath, metadata, events);
  });
}

/**
 * An echo's recipient as the sender fields `parseMessage` reads: the user it went to. A send
 * request may write the number as `+55 11 ...`: digits only, as Meta's `wa_id`.
 */
function recipientAsSender(to: unknown, userId: unknown) {
  const digits = typeof to === 'string' ? to.replace(/[\s+().-]/g, '') : '';
  return {
    from: /^\d+$/.test(digits) ? digits : undefined,
    from_user_id: typeof userId === 'string' && isBusinessScopedUserId(userId) ? userId : undefined,
  };
}

/** Stores an echo, read as a message from the user it went to, flagged `fromMe`. */
function collectEcho(
  asReceived: Record<string, unknown> & { from: string | undefined; from_user_id: string | undefined },
  raw: Record<string, unknown>,
  echoPath: string,
  metadata: { phone_number_id: string; display_phone_number?: string | undefined },
  events: ExtractedEvents,
): void {
  if (asReceived.from === undefined && asReceived.from_user_id === undefined) {
    return reject(events, `${echoPath}: echo names no recipient zapflow can read (a number or a BSUID)`);
  }
  const parsed = parseMessage(asReceived);
  if (!parsed.success) return reject(events, `${echoPath}: ${parsed.reason}`);
  const { message } = parsed;
  if (skippedInGroup(events, echoPath, message, metadata.phone_number_id)) return;
  const timestamp = unixSecondsToDate(message.timestamp);
  const waId = message.from ?? message.from_user_id;
  if (waId === undefined || timestamp === null) return reject(events, `${echoPath}: no recipient or timestamp`);
  events.messages.push({
    phoneNumberId: metadata.phone_number_id,
    ...(metadata.display_phone_number !== undefined && { displayPhoneNumber: metadata.display_phone_number }),
    waId,
    ...(message.from_user_id !== undefined && { userId: message.from_user_id }),
    wamid: message.id,
    type: message.type,
    timestamp,
    text: summarizeMessage(message),
    raw,
    fromMe: true,
  });
}

/**
 * What happens in a conversation another app on the number handles (Meta Business Agent), which
 * this one only watches: the user's messages, kept as history and never answered (`observed`:
 * an answer would take the conversation over), and the other app's replies, kept as the
 * business's own. Each reply echo wraps the send request it made (`message`, with `to`, or
 * `recipient` for a BSUID). Their statuses concern messages zapflow never sent: skipped.
 */
function collectStandby(value: unknown, path: string, events: ExtractedEvents): void {
  const shell = StandbyValueShell.safeParse(value);
  if (!shell.success) return reject(events, `${path}: ${describeIssues(shell.error)}`);
  const { metadata, standby } = shell.data;
  const { contacts = [], messages = [], message_echoes: echoes = [], statuses = [] } = standby;
  const standbyPath = `${path}.standby`;
  if (messages.length + echoes.length + statuses.length === 0) {
    return reject(events, `${standbyPath} has no messages, message_echoes or statuses`);
  }
  const context: ChangeContext = {
    path: standbyPath,
    phoneNumberId: metadata.phone_number_id,
    displayPhoneNumber: metadata.display_phone_number,
    contacts: parseContacts(contacts, standbyPath, events),
  };
  messages.forEach((message, index) => collectMessage(message, index, context, events, true));
  echoes.forEach((raw, index) => {
    const echoPath = `${standbyPath}.message_echoes[${index}]`;
    if (!isRecord(raw)) return reject(events, `${echoPath} is ${describeValue(raw)}, expected an object`);
    const sent = raw.message;
    if (!isRecord(sent)) return reject(events, `${echoPath}.message is ${describeValue(sent)}, expected an object`);
    if (sent.recipient_type === 'group') {
      return skip(events, {
        what: 'group_message',
        detail: `${echoPath}: the other app's message ${describeValue(raw.id)} to group ${describeValue(sent.to)}`,
        level: 'info',
        phoneNumberId: metadata.phone_number_id,
      });
    }
    const asReceived = { ...sent, id: raw.id, timestamp: raw.timestamp, ...recipientAsSender(sent.to, sent.recipient) };
    collectEcho(asReceived, raw, echoPath, metadata, events);
  });
  if (statuses.length > 0) {
    skip(events, {
      what: 'standby_status',
      detail: `${standbyPath}: ${statuses.length} status(es) of messages another app sent`,
      level: 'info',
      phoneNumberId: metadata.phone_number_id,
    });
  }
}

/**
 * The agent answers one-to-one chats. Answering a group message in the sender's private chat
 * would carry a group's talk out of the group, so group messages are left to the people in it.
 */
function skippedInGroup(events: ExtractedEvents, path: string, message: Message, phoneNumberId: string): boolean {
  if (message.group_id === undefined) return false;
  skip(events, {
    what: 'group_message',
    detail: `${path}: message ${message.id} in group ${message.group_id}`,
    level: 'info',
    phoneNumberId,
  });
  return true;
}

type ParsedMessage =
  { success: true; message: Message; record: Record<string, unknown> } | { success: false; reason: string };

/**
 * Common fields first, then the type-specific shape, so that the reason names the actual problem
 * ("text.body: expected string") rather than a union mismatch.
 */
function parseMessage(raw: unknown): ParsedMessage {
  if (!isRecord(raw)) return { success: false, reason: `message is ${describeValue(raw)}, expected an object` };
  const envelope = MessageEnvelope.safeParse(raw);
  if (!envelope.success) return { success: false, reason: describeIssues(envelope.error) };

  const type = envelope.data.type;
  const result = isKnownMessageType(type) ? KnownMessage.safeParse(raw) : OtherMessage.safeParse(raw);
  if (!result.success) {
    return { success: false, reason: `${type} message ${envelope.data.id}: ${describeIssues(result.error)}` };
  }
  return { success: true, message: result.data, record: raw };
}

/** The name comes from the `contacts` entry describing the sender, matched by phone or BSUID. */
function profileNameOf(message: Message, contacts: Contact[]): string | undefined {
  const sender = contacts.find(
    (contact) =>
      (message.from !== undefined && contact.wa_id === message.from) ||
      (message.from_user_id !== undefined && contact.user_id === message.from_user_id),
  );
  return nonBlank(sender?.profile?.name) ?? undefined;
}

/** The text a conversation should see for this message; null when there is nothing to read. */
export function summarizeMessage(message: Message): string | null {
  if (!isKnownMessage(message)) return null;
  switch (message.type) {
    case 'text':
      return message.text.body;
    case 'image':
      return nonBlank(message.image.caption);
    case 'video':
      return nonBlank(message.video.caption);
    case 'document':
      return nonBlank(message.document.caption);
    case 'location':
      return describeLocation(message.location);
    case 'contacts':
      return describeSharedContacts(message.contacts);
    case 'interactive':
      return describeInteractiveReply(message.interactive);
    case 'button':
      return nonBlank(message.button.text);
    case 'reaction':
      return nonBlank(message.reaction.emoji);
    case 'order':
      return describeOrder(message.order);
    case 'audio':
    case 'sticker':
    case 'system':
    case 'request_welcome':
    case 'unsupported':
    case 'unknown':
      return null;
  }
}

type InteractiveReply = Extract<KnownMessage, { type: 'interactive' }>['interactive'];

/** A button or list reply by its title; a Flow's or address form's answer by what was filled in. */
function describeInteractiveReply(interactive: InteractiveReply): string | null {
  if (interactive.button_reply) return nonBlank(interactive.button_reply.title);
  if (interactive.list_reply) return nonBlank(interactive.list_reply.title);
  if (interactive.nfm_reply) return describeFormReply(interactive.nfm_reply);
  return null;
}

type FormReply = NonNullable<InteractiveReply['nfm_reply']>;

/**
 * "Form reply: size: M; colour: red". A Flow's `response_json` holds what the user filled in, and
 * its `body` is only "Sent": without the fields the engine would answer a form it cannot read.
 * `flow_token` is the business's own correlation id, not something the user said. Only plain
 * answers are spelled out: a nested object (a photo or document picker's file carries its CDN
 * URL and encryption keys) is left out, and a list of them is counted.
 */
function describeFormReply(reply: FormReply): string | null {
  let response: unknown;
  try {
    response = JSON.parse(reply.response_json);
  } catch {
    return nonBlank(reply.body);
  }
  if (!isRecord(response)) return nonBlank(reply.body);
  const fields: string[] = [];
  for (const [key, value] of Object.entries(response)) {
    const answer = key === 'flow_token' ? null : formAnswer(value);
    if (answer) fields.push(`${readable(key)}: ${answer}`);
  }
  const summary = cut(fields.join('; '), MAX_FORM_SUMMARY);
  return summary ? `Form reply: ${summary}` : nonBlank(reply.body);
}

/** Long enough for any form a person fills in on a phone; a bound on what a payload can make us store. */
const MAX_FORM_SUMMARY = 2000;

/** The first `max` UTF-16 units of `text`, without half of a surrogate pair at the end. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

function formAnswer(value: unknown): string | null {
  if (typeof value === 'string') return nonBlank(readable(value));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!Array.isArray(value) || value.length === 0) return null;
  const plain = value.every((item) => ['string', 'number', 'boolean'].includes(typeof item));
  return plain ? value.map((item) => readable(String(item))).join(', ') : `${value.length} item(s)`;
}

/**
 * `JSON.parse` turns a `\u0000` or a lone surrogate escape into a real character, which
 * PostgreSQL refuses in text: dropped, and replaced by U+FFFD.
 */
function readable(text: string): string {
  return text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

type Location = Extract<KnownMessage, { type: 'location' }>['location'];

/** "Name, Address (lat,lng)", or just the coordinates for a dropped pin. */
function describeLocation(location: Location): string {
  const label = [nonBlank(location.name), nonBlank(location.address)].filter(isString).join(', ');
  const coordinates = `(${location.latitude},${location.longitude})`;
  return label ? `${label} ${coordinates}` : coordinates;
}

function describeSharedContacts(contacts: SharedContact[]): string | null {
  const names = contacts.map(contactName).filter(isString);
  return names.length > 0 ? names.join(', ') : null;
}

function contactName(contact: SharedContact): string | null {
  const name = contact.name;
  if (!name) return null;
  return nonBlank(name.formatted_name) ?? nonBlank([name.first_name, name.last_name].filter(isString).join(' '));
}

type Order = Extract<KnownMessage, { type: 'order' }>['order'];

/** "Order: 2 × sku-1, 1 × sku-2 (total 25 USD) — note", the total only when it is unambiguous. */
function describeOrder(order: Order): string {
  const items = order.product_items.map((item) => `${item.quantity} × ${item.product_retailer_id}`);
  const total = orderTotal(order);
  const note = nonBlank(order.text);
  return [
    `Order: ${items.length > 0 ? items.join(', ') : 'no items'}`,
    total ? ` (total ${total})` : '',
    note ? ` — ${note}` : '',
  ].join('');
}

/** Only summed when every item has a price in the same currency; otherwise the sum would lie. */
function orderTotal(order: Order): string | null {
  const currencies = new Set(order.product_items.map((item) => item.currency));
  const [currency] = currencies;
  if (order.product_items.length === 0 || currencies.size !== 1 || currency === undefined) return null;
  let cents = 0;
  for (const item of order.product_items) {
    if (item.item_price === undefined) return null;
    cents += Math.round(Number(item.item_price) * 100) * Number(item.quantity);
  }
  return Number.isFinite(cents) ? `${cents / 100} ${currency}` : null;
}

// ---------------------------------------------------------------------------------------------
// Statuses and system-level errors
// ---------------------------------------------------------------------------------------------

function collectStatus(raw: unknown, index: number, context: ChangeContext, events: ExtractedEvents): void {
  const path = `${context.path}.statuses[${index}]`;
  if (!isRecord(raw)) return reject(events, `${path} is ${describeValue(raw)}, expected an object`);
  const result = MessageStatus.safeParse(raw);
  if (!result.success) return reject(events, `${path}: ${describeIssues(result.error)}`);
  const status = result.data;

  // Guaranteed by the schema; checked again for the compiler.
  const recipientId = status.recipient_id ?? status.recipient_user_id;
  const timestamp = unixSecondsToDate(status.timestamp);
  if (recipientId === undefined || timestamp === null) return reject(events, `${path}: no recipient or timestamp`);

  events.statuses.push({
    phoneNumberId: context.phoneNumberId,
    wamid: status.id,
    status: status.status,
    timestamp,
    recipientId,
    errors: (status.errors ?? []).map(toStatusError),
    raw,
  });
}

function toStatusError(error: MetaError): StatusUpdate['errors'][number] {
  const details = error.error_data?.details;
  return {
    code: error.code,
    ...(error.title !== undefined && { title: error.title }),
    ...(error.message !== undefined && { message: error.message }),
    ...(details !== undefined && { details }),
  };
}

/**
 * Errors at `value.errors` concern the account or app, not one message (Meta documents them for
 * problems such as a suspended number): understood, so not "unrecognized", but the caller logs
 * them as errors, since someone has to act on them in WhatsApp Manager.
 */
function reportSystemError(raw: unknown, index: number, context: ChangeContext, events: ExtractedEvents): void {
  const path = `${context.path}.errors[${index}]`;
  const result = MetaError.safeParse(raw);
  if (!result.success) return reject(events, `${path}: ${describeIssues(result.error)}`);
  const { code, title, message, error_data } = result.data;
  const text = [title, message, error_data?.details].filter(isString).join(' / ');
  skip(events, {
    what: 'account_error',
    detail: `${path}: Meta reported error ${code}${text ? ` (${text})` : ''}`,
    level: 'error',
    phoneNumberId: context.phoneNumberId,
  });
}

/**
 * The other fields a WhatsApp Business Account app can subscribe to (Meta's webhook reference).
 * Their changes are answered 200 and logged as notices; a field outside this list is reported as
 * not understood, so a new one Meta adds gets noticed.
 */
const OTHER_DOCUMENTED_FIELDS = new Set([
  'account_alerts',
  'account_review_update',
  'account_settings_update',
  'account_update',
  'automatic_events',
  'business_capability_update',
  'business_status_update',
  'calls',
  'consumer_profile',
  'flows',
  'group_lifecycle_update',
  'group_participants_update',
  'group_settings_update',
  'group_status_update',
  'history',
  'message_echoes',
  'message_template_components_update',
  'message_template_quality_update',
  'message_template_status_update',
  'messaging_handovers',
  'partner_solutions',
  'payment_configuration_update',
  'phone_number_name_update',
  'phone_number_quality_update',
  'security',
  'smb_app_state_sync',
  'template_category_update',
  'template_correct_category_detection',
  'tracking_events',
  'user_preferences',
]);

/** Notices about the account or a number that someone should read: logged as warnings. */
const NOTICES_NEEDING_ATTENTION = new Set([
  'account_alerts',
  'account_review_update',
  'account_update',
  'business_capability_update',
  'phone_number_quality_update',
  'security',
]);

/** A notice's business number: most phone-level fields carry `metadata`; account-level ones do not. */
function phoneNumberIdOf(value: unknown): { phoneNumberId?: string } {
  const metadata = isRecord(value) ? value.metadata : undefined;
  const id = isRecord(metadata) ? metadata.phone_number_id : undefined;
  return typeof id === 'string' && id !== '' ? { phoneNumberId: id } : {};
}

function isOtherDocumentedField(field: unknown): field is string {
  return typeof field === 'string' && OTHER_DOCUMENTED_FIELDS.has(field);
}

/**
 * A notice's plain top-level fields, for the log: `event=APPROVED message_template_name=...`, a
 * list by its length (`user_preferences=[1]`). Nested objects are left out: they can be large,
 * and the event and names say what happened.
 */
function describeNotice(value: unknown): string {
  if (!isRecord(value)) return describeValue(value);
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (parts.length === 8) break;
    if (Array.isArray(item)) parts.push(`${key}=[${item.length}]`);
    else if (['string', 'number', 'boolean'].includes(typeof item)) parts.push(`${key}=${String(item).slice(0, 120)}`);
  }
  return parts.length > 0 ? parts.join(' ') : 'with no plain fields';
}

// ---------------------------------------------------------------------------------------------

function reject(events: ExtractedEvents, reason: string): void {
  events.unrecognized.push({ reason });
}

function skip(events: ExtractedEvents, content: SkippedContent): void {
  events.skipped.push(content);
}
