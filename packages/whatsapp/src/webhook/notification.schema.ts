/**
 * Zod schemas for the notifications Meta POSTs to a WhatsApp Cloud API webhook
 * (`object: "whatsapp_business_account"`, `entry[].changes[]` with `field: "messages"`).
 *
 * Shapes follow Meta's per-type "messages webhook reference" pages. Two rules apply throughout:
 * - every object is a `z.looseObject`: Meta adds fields without notice (user_id, identity_key_hash,
 *   group_id, ...), and an unknown key must be kept, never rejected;
 * - only what we actually rely on is required. Everything else is optional so that a field Meta
 *   drops or renames does not make a whole message unreadable.
 */
import { z } from 'zod';
import { unixSecondsToDate } from './timestamp';

export const WHATSAPP_BUSINESS_ACCOUNT_OBJECT = 'whatsapp_business_account';
export const MESSAGES_FIELD = 'messages';

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Unix seconds, as a decimal string (what Meta sends) or a number (seen in older examples). */
export const UnixTimestamp = z
  .union([z.string().regex(/^\d+$/, 'expected unix seconds'), z.number().int().nonnegative()])
  .refine((value) => unixSecondsToDate(value) !== null, { message: 'timestamp out of range' });
export type UnixTimestamp = z.infer<typeof UnixTimestamp>;

/** Numbers Meta documents as numbers but that some producers serialise as strings. */
const NumberLike = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]);

/** Error codes are numbers; a numeric string is accepted and normalised so callers can compare. */
const ErrorCode = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

/**
 * The error object Meta uses everywhere in webhooks: `value.errors` (system-level),
 * `messages[].errors` (e.g. unsupported message types) and `statuses[].errors` (failed delivery).
 */
export const MetaError = z.looseObject({
  code: ErrorCode,
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
});
export type MetaError = z.infer<typeof MetaError>;

// ---------------------------------------------------------------------------------------------
// value.metadata and value.contacts
// ---------------------------------------------------------------------------------------------

export const Metadata = z.looseObject({
  display_phone_number: z.string().optional(),
  phone_number_id: z.string().min(1),
});
export type Metadata = z.infer<typeof Metadata>;

/**
 * The sender's profile. With WhatsApp usernames (2026) `wa_id` is omitted for users who hide their
 * phone number; `user_id` (business-scoped user ID, "BSUID") is then the only identifier.
 */
export const Contact = z.looseObject({
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  parent_user_id: z.string().optional(),
  identity_key_hash: z.string().optional(),
  country_code: z.string().optional(),
  profile: z
    .looseObject({
      name: z.string().optional(),
      username: z.string().optional(),
    })
    .optional(),
});
export type Contact = z.infer<typeof Contact>;

// ---------------------------------------------------------------------------------------------
// value.messages[]: common fields
// ---------------------------------------------------------------------------------------------

/** Present on replies, forwards, and product enquiries. */
export const MessageContext = z.looseObject({
  from: z.string().optional(),
  id: z.string().optional(),
  forwarded: z.boolean().optional(),
  frequently_forwarded: z.boolean().optional(),
  referred_product: z
    .looseObject({
      catalog_id: z.string().optional(),
      product_retailer_id: z.string().optional(),
    })
    .optional(),
});
export type MessageContext = z.infer<typeof MessageContext>;

/** Click-to-WhatsApp ad attribution; only on the first message after the click. */
export const Referral = z.looseObject({
  source_url: z.string().optional(),
  source_id: z.string().optional(),
  source_type: z.string().optional(),
  headline: z.string().optional(),
  body: z.string().optional(),
  media_type: z.string().optional(),
  image_url: z.string().optional(),
  video_url: z.string().optional(),
  thumbnail_url: z.string().optional(),
  ctwa_clid: z.string().optional(),
  welcome_message: z.looseObject({ text: z.string().optional() }).optional(),
});
export type Referral = z.infer<typeof Referral>;

/**
 * Fields every inbound message carries. `from` is the user's phone number, but Meta omits it for
 * username users and sends `from_user_id` (BSUID) instead, so each is optional and `hasSender`
 * requires one of the two.
 */
const messageBase = {
  id: z.string().min(1),
  from: z.string().min(1).optional(),
  from_user_id: z.string().min(1).optional(),
  from_parent_user_id: z.string().optional(),
  group_id: z.string().optional(),
  timestamp: UnixTimestamp,
  context: MessageContext.optional(),
  referral: Referral.optional(),
  errors: z.array(MetaError).optional(),
};

const hasSender = (message: { from?: string | undefined; from_user_id?: string | undefined }) =>
  message.from !== undefined || message.from_user_id !== undefined;
const senderRequired = { message: 'message has neither from nor from_user_id', path: ['from'] };

/** Media is referenced by id (downloaded via the media endpoint); `url` appears in newer payloads. */
const mediaFields = {
  id: z.string().min(1),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  url: z.string().optional(),
};

// ---------------------------------------------------------------------------------------------
// value.messages[]: one schema per documented type
// ---------------------------------------------------------------------------------------------

export const TextMessage = z.looseObject({
  ...messageBase,
  type: z.literal('text'),
  text: z.looseObject({ body: z.string() }),
});

export const ImageMessage = z.looseObject({
  ...messageBase,
  type: z.literal('image'),
  image: z.looseObject({ ...mediaFields, caption: z.string().optional() }),
});

/** `voice: true` marks a voice note recorded in the chat, as opposed to a forwarded audio file. */
export const AudioMessage = z.looseObject({
  ...messageBase,
  type: z.literal('audio'),
  audio: z.looseObject({ ...mediaFields, voice: z.boolean().optional() }),
});

export const VideoMessage = z.looseObject({
  ...messageBase,
  type: z.literal('video'),
  video: z.looseObject({ ...mediaFields, caption: z.string().optional() }),
});

export const DocumentMessage = z.looseObject({
  ...messageBase,
  type: z.literal('document'),
  document: z.looseObject({
    ...mediaFields,
    caption: z.string().optional(),
    filename: z.string().optional(),
  }),
});

export const StickerMessage = z.looseObject({
  ...messageBase,
  type: z.literal('sticker'),
  sticker: z.looseObject({ ...mediaFields, animated: z.boolean().optional() }),
});

/** Meta documents latitude/longitude as numbers; some relays send strings, so both are read. */
export const LocationMessage = z.looseObject({
  ...messageBase,
  type: z.literal('location'),
  location: z.looseObject({
    latitude: NumberLike,
    longitude: NumberLike,
    name: z.string().optional(),
    address: z.string().optional(),
    url: z.string().optional(),
  }),
});

/** A contact card shared by the user (not to be confused with `value.contacts`, the sender). */
export const SharedContact = z.looseObject({
  name: z
    .looseObject({
      formatted_name: z.string().optional(),
      first_name: z.string().optional(),
      last_name: z.string().optional(),
      middle_name: z.string().optional(),
      prefix: z.string().optional(),
      suffix: z.string().optional(),
    })
    .optional(),
  phones: z
    .array(z.looseObject({ phone: z.string().optional(), wa_id: z.string().optional(), type: z.string().optional() }))
    .optional(),
  emails: z.array(z.looseObject({ email: z.string().optional(), type: z.string().optional() })).optional(),
  org: z.looseObject({ company: z.string().optional() }).optional(),
});
export type SharedContact = z.infer<typeof SharedContact>;

export const ContactsMessage = z.looseObject({
  ...messageBase,
  type: z.literal('contacts'),
  contacts: z.array(SharedContact),
});

export const ButtonReply = z.looseObject({ id: z.string(), title: z.string() });
export const ListReply = z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() });
/** WhatsApp Flows and address messages: `response_json` is a JSON string, `body` is often just "Sent". */
export const NfmReply = z.looseObject({
  name: z.string().optional(),
  body: z.string().optional(),
  response_json: z.string(),
});

const DOCUMENTED_INTERACTIVE_TYPES = ['button_reply', 'list_reply', 'nfm_reply'] as const;
function isDocumentedInteractiveType(type: string): type is (typeof DOCUMENTED_INTERACTIVE_TYPES)[number] {
  return (DOCUMENTED_INTERACTIVE_TYPES as readonly string[]).includes(type);
}

/**
 * Reply to an interactive message. `interactive.type` names the sub-object that carries the reply;
 * Meta keeps adding sub-types (call_permission_reply, ...), so unknown ones are accepted as-is,
 * while the documented ones must carry their sub-object.
 */
export const InteractiveReply = z
  .looseObject({
    type: z.string().min(1),
    button_reply: ButtonReply.optional(),
    list_reply: ListReply.optional(),
    nfm_reply: NfmReply.optional(),
  })
  .refine((reply) => !isDocumentedInteractiveType(reply.type) || reply[reply.type] !== undefined, {
    message: 'interactive reply is missing the object named by its type',
  });

export const InteractiveMessage = z.looseObject({
  ...messageBase,
  type: z.literal('interactive'),
  interactive: InteractiveReply,
});

/** A tap on a quick-reply button of a template message. */
export const ButtonMessage = z.looseObject({
  ...messageBase,
  type: z.literal('button'),
  button: z.looseObject({ text: z.string(), payload: z.string().optional() }),
});

/** `emoji` is absent (or empty) when the user removes a reaction. */
export const ReactionMessage = z.looseObject({
  ...messageBase,
  type: z.literal('reaction'),
  reaction: z.looseObject({ message_id: z.string(), emoji: z.string().optional() }),
});

export const OrderItem = z.looseObject({
  product_retailer_id: z.string(),
  quantity: NumberLike,
  item_price: NumberLike.optional(),
  currency: z.string().optional(),
});

export const OrderMessage = z.looseObject({
  ...messageBase,
  type: z.literal('order'),
  order: z.looseObject({
    catalog_id: z.string().optional(),
    text: z.string().optional(),
    product_items: z.array(OrderItem),
  }),
});

/**
 * Identity changes: `user_changed_number` (new phone number in `wa_id`), `user_changed_user_id`
 * (BSUID changed), and the older `customer_changed_number` / `customer_identity_changed`.
 */
export const SystemMessage = z.looseObject({
  ...messageBase,
  type: z.literal('system'),
  system: z.looseObject({
    body: z.string().optional(),
    type: z.string().optional(),
    wa_id: z.string().optional(),
    new_wa_id: z.union([z.string(), z.number()]).optional(),
    user_id: z.string().optional(),
    parent_user_id: z.string().optional(),
    previous_user_id: z.string().optional(),
    previous_parent_user_id: z.string().optional(),
    identity: z.string().optional(),
    customer: z.string().optional(),
  }),
});

/** Sent when a user opens a chat with the business for the first time (no content). */
export const RequestWelcomeMessage = z.looseObject({
  ...messageBase,
  type: z.literal('request_welcome'),
});

/** A type Cloud API cannot deliver (polls, view-once, ...); the reason is in `errors` (131051). */
export const UnsupportedMessage = z.looseObject({
  ...messageBase,
  type: z.enum(['unsupported', 'unknown']),
  unsupported: z.looseObject({ type: z.string().optional() }).optional(),
});

export const KNOWN_MESSAGE_TYPES = [
  'text',
  'image',
  'audio',
  'video',
  'document',
  'sticker',
  'location',
  'contacts',
  'interactive',
  'button',
  'reaction',
  'order',
  'system',
  'request_welcome',
  'unsupported',
  'unknown',
] as const;
export type KnownMessageType = (typeof KNOWN_MESSAGE_TYPES)[number];

export function isKnownMessageType(type: string): type is KnownMessageType {
  return (KNOWN_MESSAGE_TYPES as readonly string[]).includes(type);
}

/** A message of a documented type, validated against that type's shape. */
export const KnownMessage = z
  .discriminatedUnion('type', [
    TextMessage,
    ImageMessage,
    AudioMessage,
    VideoMessage,
    DocumentMessage,
    StickerMessage,
    LocationMessage,
    ContactsMessage,
    InteractiveMessage,
    ButtonMessage,
    ReactionMessage,
    OrderMessage,
    SystemMessage,
    RequestWelcomeMessage,
    UnsupportedMessage,
  ])
  .refine(hasSender, senderRequired);
export type KnownMessage = z.infer<typeof KnownMessage>;

/**
 * A message of a type this code does not know yet. Only the common fields are checked, so that a
 * type Meta introduces tomorrow still reaches the conversation (with its raw payload) instead of
 * being dropped. Documented types are excluded: a malformed `text` must not pass as "unknown".
 */
export const OtherMessage = z
  .looseObject({
    ...messageBase,
    type: z
      .string()
      .min(1)
      .refine((type) => !isKnownMessageType(type), { message: 'documented type must match its own schema' }),
  })
  .refine(hasSender, senderRequired);
export type OtherMessage = z.infer<typeof OtherMessage>;

/**
 * Only the fields shared by every message: used to tell "not a message at all" apart from
 * "a message whose type-specific part is malformed" when reporting why a message was skipped.
 */
export const MessageEnvelope = z
  .looseObject({ ...messageBase, type: z.string().min(1) })
  .refine(hasSender, senderRequired);
export type MessageEnvelope = z.infer<typeof MessageEnvelope>;

export const Message = z.union([KnownMessage, OtherMessage]);
export type Message = z.infer<typeof Message>;

export function isKnownMessage(message: Message): message is KnownMessage {
  return isKnownMessageType(message.type);
}

// ---------------------------------------------------------------------------------------------
// value.statuses[]
// ---------------------------------------------------------------------------------------------

/** Values Meta documents for `statuses[].status`; the schema accepts any string for future ones. */
export const DOCUMENTED_STATUSES = ['sent', 'delivered', 'read', 'played', 'failed', 'deleted', 'warning'] as const;
export type DocumentedStatus = (typeof DOCUMENTED_STATUSES)[number];

export const Conversation = z.looseObject({
  id: z.string().optional(),
  expiration_timestamp: UnixTimestamp.optional(),
  origin: z.looseObject({ type: z.string().optional() }).optional(),
});

export const Pricing = z.looseObject({
  billable: z.boolean().optional(),
  pricing_model: z.string().optional(),
  category: z.string().optional(),
  type: z.string().optional(),
});

/**
 * Delivery status of a message we sent. `recipient_id` is the phone number, or the group id; Meta
 * omits it when the message was addressed to a BSUID, and then `recipient_user_id` is set.
 */
export const MessageStatus = z
  .looseObject({
    id: z.string().min(1),
    status: z.string().min(1),
    timestamp: UnixTimestamp,
    recipient_id: z.string().min(1).optional(),
    recipient_user_id: z.string().min(1).optional(),
    recipient_parent_user_id: z.string().optional(),
    recipient_type: z.string().optional(),
    recipient_participant_id: z.string().optional(),
    biz_opaque_callback_data: z.string().optional(),
    conversation: Conversation.optional(),
    pricing: Pricing.optional(),
    errors: z.array(MetaError).optional(),
  })
  .refine((status) => status.recipient_id !== undefined || status.recipient_user_id !== undefined, {
    message: 'status has neither recipient_id nor recipient_user_id',
    path: ['recipient_id'],
  });
export type MessageStatus = z.infer<typeof MessageStatus>;

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

export const MessagesChangeValue = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: Metadata,
  contacts: z.array(Contact).optional(),
  messages: z.array(Message).optional(),
  statuses: z.array(MessageStatus).optional(),
  /** System-level errors, not tied to a message (e.g. an app or account problem). */
  errors: z.array(MetaError).optional(),
});
export type MessagesChangeValue = z.infer<typeof MessagesChangeValue>;

export const MessagesChange = z.looseObject({
  field: z.literal(MESSAGES_FIELD),
  value: MessagesChangeValue,
});
export type MessagesChange = z.infer<typeof MessagesChange>;

/** Any other subscribed field (account_update, message_template_status_update, calls, ...). */
export const OtherChange = z.looseObject({
  field: z
    .string()
    .refine((field) => field !== MESSAGES_FIELD, { message: 'messages changes must match their schema' }),
  value: z.unknown(),
});
export type OtherChange = z.infer<typeof OtherChange>;

export const Entry = z.looseObject({
  id: z.string(),
  changes: z.array(z.union([MessagesChange, OtherChange])),
});
export type Entry = z.infer<typeof Entry>;

/**
 * The whole POST body, fully validated: a single malformed message fails it. Use `extractEvents`
 * to read a body item by item instead.
 */
export const WebhookNotification = z.looseObject({
  object: z.literal(WHATSAPP_BUSINESS_ACCOUNT_OBJECT),
  entry: z.array(Entry),
});
export type WebhookNotification = z.infer<typeof WebhookNotification>;

/**
 * `value` of a messages change with its items left unchecked, so that extraction can validate
 * (and report) each message, status and contact on its own.
 */
/**
 * `value` of an `smb_message_echoes` change (a business using the WhatsApp Business app and the
 * Cloud API on one number): what the business sent from the app, each echo shaped like a message
 * but with `to` (the user) beside `from` (the business number). Items left unchecked, as above.
 */
export const MessageEchoesValueShell = z.looseObject({
  metadata: Metadata,
  message_echoes: z.array(z.unknown()),
});

export const SMB_MESSAGE_ECHOES_FIELD = 'smb_message_echoes';

/**
 * What an app sees while another one handles a conversation on the same number (Meta Business
 * Agent): the user's messages, the other app's replies (each wrapping the send request it made)
 * and their statuses, one level down under `standby`.
 */
export const StandbyValueShell = z.looseObject({
  metadata: Metadata,
  standby: z.looseObject({
    contacts: z.array(z.unknown()).optional(),
    messages: z.array(z.unknown()).optional(),
    message_echoes: z.array(z.unknown()).optional(),
    statuses: z.array(z.unknown()).optional(),
  }),
});

export const STANDBY_FIELD = 'standby';

export const MessagesChangeValueShell = z.looseObject({
  metadata: Metadata,
  contacts: z.array(z.unknown()).optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});
