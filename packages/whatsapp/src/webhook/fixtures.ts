/**
 * Builders for realistic Meta webhook payloads, for tests here and elsewhere in the repo.
 *
 * They mirror the examples of Meta's "messages webhook reference" pages, including the fields Meta
 * adds beyond the basics (contacts[].user_id and identity_key_hash, messages[].from_user_id,
 * context on replies, metadata.display_phone_number, pricing on statuses), so that code tested
 * against them also copes with the real thing. Outputs are plain objects: tests may spread or
 * mutate them to build malformed variants.
 *
 * Compose a delivery from message builders:
 *   messagesNotification({ messages: [textMessage({ from, body: 'hi' }), imageMessage({ from })] })
 * or use a shortcut: textMessageNotification({ phoneNumberId, from, wamid, body }).
 */
import { createHash, randomBytes } from 'node:crypto';
import { toUnixSecondsString } from './timestamp';

export type Json = Record<string, unknown>;

export const DEFAULT_WABA_ID = '102290129340398';
export const DEFAULT_PHONE_NUMBER_ID = '106540352242922';
export const DEFAULT_DISPLAY_PHONE_NUMBER = '15550783881';

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/** A fresh message id shaped like Meta's ("wamid." + base64). */
export function fakeWamid(): string {
  return `wamid.HBgL${randomBytes(30).toString('base64')}`;
}

/** A stable business-scoped user ID (BSUID) for a phone number, shaped like "US.13491208655302741918". */
export function fakeBsuid(waId: string): string {
  const digits = [...digest(`bsuid:${waId}`)].map((char) => parseInt(char, 16) % 10).join('');
  return `US.${digits.slice(0, 20)}`;
}

/** A stable identity key hash for a phone number (Meta sends a short base64 string). */
export function fakeIdentityKeyHash(waId: string): string {
  return Buffer.from(digest(`identity:${waId}`).slice(0, 16), 'hex').toString('base64');
}

/** Media ids are 15-16 digit numbers. */
function fakeMediaId(): string {
  return `1${[...randomBytes(15)].map((byte) => byte % 10).join('')}`;
}

function digest(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

function unixSeconds(timestamp: Date | number | undefined): string {
  return toUnixSecondsString(timestamp ?? new Date());
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

export interface WebhookPayload {
  object: 'whatsapp_business_account';
  entry: { id: string; changes: { field: string; value: Json }[] }[];
}

export interface NotificationOptions {
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  wabaId?: string;
  contacts?: Json[];
  messages?: Json[];
  statuses?: Json[];
  /** System-level errors (`value.errors`). */
  errors?: Json[];
}

/** A delivery of one change of a field other than `messages`, e.g. a template's review result. */
export function otherFieldNotification(field: string, value: Json): WebhookPayload {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: DEFAULT_WABA_ID, changes: [{ field, value }] }],
  };
}

/**
 * What a business using the WhatsApp Business app beside the Cloud API sent from the app
 * (`smb_message_echoes`): each of `messages` (built for the user, as if from them) becomes an
 * echo from the business number to that user.
 */
export function messageEchoesNotification(options: { messages: Json[]; phoneNumberId?: string }): WebhookPayload {
  const echoes = options.messages.map(({ from, from_user_id: fromUserId, ...rest }) => ({
    from: DEFAULT_DISPLAY_PHONE_NUMBER,
    to: from,
    ...(fromUserId !== undefined && { to_user_id: fromUserId }),
    ...rest,
  }));
  return otherFieldNotification('smb_message_echoes', {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER,
      phone_number_id: options.phoneNumberId ?? DEFAULT_PHONE_NUMBER_ID,
    },
    message_echoes: echoes,
  });
}

/**
 * What an app sees while Meta Business Agent handles a conversation on its number (`standby`):
 * the user's `messages`, the agent's `replies` (each an echo wrapping the send request it made)
 * and `statuses`, one level down under `value.standby`.
 */
export function standbyNotification(options: {
  messages?: Json[];
  replies?: { to?: string; recipient?: string; recipientType?: string; body: string }[];
  statuses?: Json[];
  contacts?: Json[];
  phoneNumberId?: string;
}): WebhookPayload {
  const echoes = options.replies?.map((reply) => ({
    id: fakeWamid(),
    timestamp: unixSeconds(undefined),
    message: {
      messaging_product: 'whatsapp',
      ...(reply.to !== undefined && { to: reply.to }),
      ...(reply.recipient !== undefined && { recipient: reply.recipient }),
      recipient_type: reply.recipientType ?? 'individual',
      type: 'text',
      text: { body: reply.body, preview_url: true },
    },
  }));
  return otherFieldNotification('standby', {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER,
      phone_number_id: options.phoneNumberId ?? DEFAULT_PHONE_NUMBER_ID,
    },
    standby: {
      ...(options.contacts && { contacts: options.contacts }),
      ...(options.messages && { messages: options.messages }),
      ...(echoes && { message_echoes: echoes }),
      ...(options.statuses && { statuses: options.statuses }),
    },
  });
}

/** One entry with one `messages` change carrying whatever is given. */
export function notification(options: NotificationOptions = {}): WebhookPayload {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: options.wabaId ?? DEFAULT_WABA_ID,
        changes: [{ field: 'messages', value: changeValue(options) }],
      },
    ],
  };
}

/** The `value` of a messages change, for building bodies with several entries or changes. */
export function changeValue(options: NotificationOptions = {}): Json {
  return {
    messaging_product: 'whatsapp',
    metadata: {
      display_phone_number: options.displayPhoneNumber ?? DEFAULT_DISPLAY_PHONE_NUMBER,
      phone_number_id: options.phoneNumberId ?? DEFAULT_PHONE_NUMBER_ID,
    },
    ...(options.contacts && { contacts: options.contacts }),
    ...(options.messages && { messages: options.messages }),
    ...(options.statuses && { statuses: options.statuses }),
    ...(options.errors && { errors: options.errors }),
  };
}

export interface ContactOptions {
  waId: string;
  profileName?: string;
  /** Defaults to a BSUID derived from waId; null omits it. */
  userId?: string | null;
  /** Defaults to a hash derived from waId; null omits it (Meta sends it only with identity checks on). */
  identityKeyHash?: string | null;
}

/** A `value.contacts[]` entry describing a sender. */
export function contact(options: ContactOptions): Json {
  const userId = options.userId === undefined ? fakeBsuid(options.waId) : options.userId;
  const identityKeyHash =
    options.identityKeyHash === undefined ? fakeIdentityKeyHash(options.waId) : options.identityKeyHash;
  return {
    profile: { name: options.profileName ?? 'Sheena Nelson' },
    wa_id: options.waId,
    ...(userId !== null && { user_id: userId }),
    ...(identityKeyHash !== null && { identity_key_hash: identityKeyHash }),
  };
}

export interface MessagesNotificationOptions extends Omit<NotificationOptions, 'contacts'> {
  messages: Json[];
  /** Profile name given to every sender's contacts entry. */
  profileName?: string;
}

/** Inbound messages with one contacts entry per distinct sender, as Meta sends them. */
export function messagesNotification(options: MessagesNotificationOptions): WebhookPayload {
  const senders = [...new Set(options.messages.map((message) => message.from).filter(isString))];
  return notification({
    ...options,
    contacts: senders.map((waId) =>
      contact({ waId, ...(options.profileName !== undefined && { profileName: options.profileName }) }),
    ),
  });
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

export interface MessageOptions {
  /** The sender's phone number (wa_id). */
  from: string;
  wamid?: string;
  /** Date or unix seconds; defaults to now. */
  timestamp?: Date | number;
  /** Defaults to a BSUID derived from `from`; null omits it. */
  fromUserId?: string | null;
  context?: Json;
  referral?: Json;
  /** Sent in a group the business is in (Meta's Groups API); `from` is the member who wrote. */
  groupId?: string;
}

function message(options: MessageOptions, type: string, content: Json): Json {
  const fromUserId = options.fromUserId === undefined ? fakeBsuid(options.from) : options.fromUserId;
  return {
    ...(options.context && { context: options.context }),
    from: options.from,
    ...(fromUserId !== null && { from_user_id: fromUserId }),
    ...(options.groupId !== undefined && { group_id: options.groupId }),
    id: options.wamid ?? fakeWamid(),
    timestamp: unixSeconds(options.timestamp),
    type,
    ...content,
    ...(options.referral && { referral: options.referral }),
  };
}

/** Context of a reply to one of the business's messages (interactive and button replies always have one). */
export function replyContext(wamid: string = fakeWamid(), from: string = DEFAULT_DISPLAY_PHONE_NUMBER): Json {
  return { from, id: wamid };
}

/** Context of a forwarded message. */
export function forwardedContext(frequently = false): Json {
  return frequently ? { forwarded: true, frequently_forwarded: true } : { forwarded: true };
}

/** Click-to-WhatsApp ad attribution, as on the first message after an ad click. */
export function adReferral(overrides: Json = {}): Json {
  return {
    source_url: 'https://fb.me/3cr4Wqqkv',
    source_id: '120226305854810726',
    source_type: 'ad',
    body: 'Free delivery this week only',
    headline: 'Chat with us',
    media_type: 'image',
    image_url: 'https://scontent.xx.fbcdn.net/v/t45.1600-4/ad.jpg',
    ctwa_clid: 'ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a',
    welcome_message: { text: 'Hi! How can we help?' },
    ...overrides,
  };
}

function media(options: { mediaId?: string | undefined }, mimeType: string, extension: string): Json {
  const id = options.mediaId ?? fakeMediaId();
  return {
    mime_type: mimeType,
    sha256: randomBytes(32).toString('base64'),
    id,
    url: `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=${id}&ext=${extension}`,
  };
}

export function textMessage(options: MessageOptions & { body: string }): Json {
  return message(options, 'text', { text: { body: options.body } });
}

export interface MediaOptions extends MessageOptions {
  mediaId?: string;
  caption?: string;
}

export function imageMessage(options: MediaOptions): Json {
  return message(options, 'image', {
    image: {
      ...(options.caption !== undefined && { caption: options.caption }),
      ...media(options, 'image/jpeg', 'jpg'),
    },
  });
}

/** A voice note by default (`voice: true`); pass voice: false for a forwarded audio file. */
export function audioMessage(options: MessageOptions & { mediaId?: string; voice?: boolean }): Json {
  return message(options, 'audio', {
    audio: { ...media(options, 'audio/ogg; codecs=opus', 'ogg'), voice: options.voice ?? true },
  });
}

export function videoMessage(options: MediaOptions): Json {
  return message(options, 'video', {
    video: {
      ...(options.caption !== undefined && { caption: options.caption }),
      ...media(options, 'video/mp4', 'mp4'),
    },
  });
}

export function documentMessage(options: MediaOptions & { filename?: string }): Json {
  return message(options, 'document', {
    document: {
      ...(options.caption !== undefined && { caption: options.caption }),
      filename: options.filename ?? 'invoice.pdf',
      ...media(options, 'application/pdf', 'pdf'),
    },
  });
}

export function stickerMessage(options: MessageOptions & { mediaId?: string; animated?: boolean }): Json {
  return message(options, 'sticker', {
    sticker: { ...media(options, 'image/webp', 'webp'), animated: options.animated ?? false },
  });
}

export interface LocationOptions extends MessageOptions {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}

export function locationMessage(options: LocationOptions): Json {
  return message(options, 'location', {
    location: {
      ...(options.address !== undefined && { address: options.address }),
      latitude: options.latitude,
      longitude: options.longitude,
      ...(options.name !== undefined && { name: options.name }),
    },
  });
}

export interface SharedContactOptions {
  name: string;
  phone?: string;
}

/** Contact cards shared by the user. */
export function contactsMessage(options: MessageOptions & { contacts: SharedContactOptions[] }): Json {
  return message(options, 'contacts', {
    contacts: options.contacts.map(({ name, phone }) => {
      const [firstName, ...rest] = name.split(' ');
      return {
        name: { formatted_name: name, first_name: firstName, ...(rest.length > 0 && { last_name: rest.join(' ') }) },
        ...(phone !== undefined && {
          phones: [{ phone: `+${phone}`, wa_id: phone, type: 'MOBILE' }],
        }),
      };
    }),
  });
}

/** A tap on a reply button of an interactive message. */
export function buttonReplyMessage(options: MessageOptions & { id: string; title: string }): Json {
  return message({ context: replyContext(), ...options }, 'interactive', {
    interactive: { type: 'button_reply', button_reply: { id: options.id, title: options.title } },
  });
}

/** A row picked from an interactive list message. */
export function listReplyMessage(options: MessageOptions & { id: string; title: string; description?: string }): Json {
  return message({ context: replyContext(), ...options }, 'interactive', {
    interactive: {
      type: 'list_reply',
      list_reply: {
        id: options.id,
        title: options.title,
        ...(options.description !== undefined && { description: options.description }),
      },
    },
  });
}

/** A completed WhatsApp Flow (`nfm_reply`); `response` is serialised into response_json like Meta does. */
export function flowReplyMessage(options: MessageOptions & { response: Json; name?: string; body?: string }): Json {
  return message({ context: replyContext(), ...options }, 'interactive', {
    interactive: {
      type: 'nfm_reply',
      nfm_reply: {
        name: options.name ?? 'flow',
        body: options.body ?? 'Sent',
        response_json: JSON.stringify(options.response),
      },
    },
  });
}

/** A tap on a quick-reply button of a template message. */
export function templateButtonMessage(options: MessageOptions & { text: string; payload?: string }): Json {
  return message({ context: replyContext(), ...options }, 'button', {
    button: { payload: options.payload ?? options.text.toUpperCase().replace(/\W+/g, '_'), text: options.text },
  });
}

/** A reaction to `messageId`; omit emoji for a removed reaction. */
export function reactionMessage(options: MessageOptions & { messageId: string; emoji?: string }): Json {
  return message(options, 'reaction', {
    reaction: { message_id: options.messageId, ...(options.emoji !== undefined && { emoji: options.emoji }) },
  });
}

export interface OrderItemOptions {
  productRetailerId: string;
  quantity: number;
  itemPrice?: number;
  currency?: string;
}

export function orderMessage(
  options: MessageOptions & { items: OrderItemOptions[]; catalogId?: string; text?: string },
): Json {
  return message(options, 'order', {
    order: {
      catalog_id: options.catalogId ?? '194836987003835',
      ...(options.text !== undefined && { text: options.text }),
      product_items: options.items.map((item) => ({
        product_retailer_id: item.productRetailerId,
        quantity: item.quantity,
        item_price: item.itemPrice ?? 10,
        currency: item.currency ?? 'USD',
      })),
    },
  });
}

/** The user changed phone number; Meta sends no contacts entry with system messages. */
export function systemMessage(options: MessageOptions & { newWaId: string; profileName?: string }): Json {
  return message(options, 'system', {
    system: {
      body: `User ${options.profileName ?? 'Sheena Nelson'} changed from ${options.from} to ${options.newWaId}`,
      wa_id: options.newWaId,
      type: 'user_changed_number',
      user_id: fakeBsuid(options.newWaId),
      previous_user_id: fakeBsuid(options.from),
    },
  });
}

/** The user opened the chat for the first time; the message has no content. */
export function requestWelcomeMessage(options: MessageOptions): Json {
  return message(options, 'request_welcome', {});
}

/** A message type Cloud API cannot deliver (poll, view-once, ...). */
export function unsupportedMessage(options: MessageOptions & { unsupportedType?: string }): Json {
  return message(options, 'unsupported', {
    unsupported: { type: options.unsupportedType ?? 'poll_creation' },
    errors: [
      {
        code: 131051,
        title: 'Message type unknown',
        message: 'Message type unknown',
        error_data: { details: 'Message type is currently not supported.' },
      },
    ],
  });
}

/** A text message notification with its contacts entry, the most common delivery. */
export function textMessageNotification(
  options: MessageOptions & { body: string; phoneNumberId?: string; displayPhoneNumber?: string; profileName?: string },
): WebhookPayload {
  return messagesNotification({ ...envelopeOptions(options), messages: [textMessage(options)] });
}

function envelopeOptions(options: { phoneNumberId?: string; displayPhoneNumber?: string; profileName?: string }) {
  return {
    ...(options.phoneNumberId !== undefined && { phoneNumberId: options.phoneNumberId }),
    ...(options.displayPhoneNumber !== undefined && { displayPhoneNumber: options.displayPhoneNumber }),
    ...(options.profileName !== undefined && { profileName: options.profileName }),
  };
}

// ---------------------------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------------------------

export interface StatusErrorOptions {
  code: number;
  title?: string;
  message?: string;
  details?: string;
}

export interface StatusOptions {
  wamid: string;
  status: string;
  /** The user's phone number. */
  recipientId: string;
  timestamp?: Date | number;
  /** Defaults to a BSUID derived from recipientId; null omits it. */
  recipientUserId?: string | null;
  errors?: StatusErrorOptions[];
  bizOpaqueCallbackData?: string;
}

/**
 * One `value.statuses[]` item. Successful statuses carry pricing (and a conversation); failed ones
 * carry `errors` instead, as in Meta's examples.
 */
export function statusUpdate(options: StatusOptions): Json {
  const recipientUserId =
    options.recipientUserId === undefined ? fakeBsuid(options.recipientId) : options.recipientUserId;
  const failed = options.status === 'failed' || (options.errors?.length ?? 0) > 0;
  return {
    id: options.wamid,
    status: options.status,
    timestamp: unixSeconds(options.timestamp),
    recipient_id: options.recipientId,
    ...(recipientUserId !== null && { recipient_user_id: recipientUserId }),
    ...(options.bizOpaqueCallbackData !== undefined && { biz_opaque_callback_data: options.bizOpaqueCallbackData }),
    ...(failed
      ? { errors: (options.errors ?? [reEngagementError()]).map(metaError) }
      : {
          conversation: { id: digest(options.wamid).slice(0, 32), origin: { type: 'service' } },
          pricing: { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' },
        }),
  };
}

/** The usual failure: replying outside the 24-hour customer service window. */
export function reEngagementError(): StatusErrorOptions {
  return {
    code: 131047,
    title: 'Re-engagement message',
    message: 'Re-engagement message',
    details:
      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  };
}

/** A Meta error object (`code`, `title`, `message`, `error_data.details`, `href`). */
export function metaError(options: StatusErrorOptions): Json {
  return {
    code: options.code,
    ...(options.title !== undefined && { title: options.title }),
    ...(options.message !== undefined && { message: options.message }),
    ...(options.details !== undefined && { error_data: { details: options.details } }),
    href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
  };
}

/** A status notification; non-failed statuses come with the recipient's contacts entry, like Meta's. */
export function statusNotification(
  options: StatusOptions & { phoneNumberId?: string; displayPhoneNumber?: string },
): WebhookPayload {
  const failed = options.status === 'failed' || (options.errors?.length ?? 0) > 0;
  return notification({
    ...envelopeOptions(options),
    ...(!failed && { contacts: [contact({ waId: options.recipientId })] }),
    statuses: [statusUpdate(options)],
  });
}
