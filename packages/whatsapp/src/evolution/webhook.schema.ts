/**
 * Zod schemas for the events a self-hosted Evolution API (v2) POSTs to its webhook.
 *
 * Every delivery is one envelope, whatever the event:
 *   { event: "messages.upsert", instance: "<instance name>", data: {...}, destination, date_time,
 *     sender: "<instance owner JID>", server_url, apikey: "<instance token>" | null }
 * For `messages.upsert`, `data` is one Baileys message as Evolution stores it:
 *   { key: { remoteJid, fromMe, id, remoteJidAlt?, senderPn?, participant?, addressingMode? },
 *     pushName, status, message: { conversation | extendedTextMessage | imageMessage | ... },
 *     messageType, messageTimestamp (unix seconds), instanceId, source }
 * (Evolution's `webhook.controller.ts` and `whatsapp.baileys.service.ts`.) Older releases and some
 * relays send `data` as an array of such messages; both are read. For `messages.update`, see
 * `EvolutionMessageUpdate` below.
 *
 * As for the Cloud API schemas: every object is a `z.looseObject` (Baileys and Evolution add
 * fields all the time) and only what is relied on is required.
 */
import { z } from 'zod';

/** The only event that carries messages from contacts. */
export const EVOLUTION_MESSAGES_UPSERT = 'messages.upsert';

/** Status changes of messages: sent, delivered, read, played, failed (and edits, poll votes). */
export const EVOLUTION_MESSAGES_UPDATE = 'messages.update';

/**
 * Event names come as `messages.upsert` in the body, `MESSAGES_UPSERT` in Evolution's settings and
 * `messages-upsert` in its per-event URLs; all three are one event.
 */
export function normalizeEvolutionEvent(event: string): string {
  return event.trim().toLowerCase().replace(/[_-]/g, '.');
}

export const EvolutionWebhookBody = z.looseObject({
  event: z.string().min(1),
  /** The instance name: the business number's identity on this Evolution server. */
  instance: z.string().min(1),
  data: z.unknown(),
  destination: z.string().nullish(),
  date_time: z.string().nullish(),
  /** The instance owner's JID (the business number), not the contact. */
  sender: z.string().nullish(),
  server_url: z.string().nullish(),
  /** The instance token; null unless Evolution runs with AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES. */
  apikey: z.string().nullish(),
});
export type EvolutionWebhookBody = z.infer<typeof EvolutionWebhookBody>;

/**
 * Baileys' message key. `remoteJid` is the chat: `<phone>@s.whatsapp.net` for a contact,
 * `<id>@g.us` for a group, `status@broadcast` for status posts, or `<opaque id>@lid` when WhatsApp
 * hides the phone number behind a "linked identity"; then the phone number, when known, is in
 * `remoteJidAlt` (Baileys 7, Evolution >= 2.3.x) or `senderPn` (Baileys 6.7, Evolution 2.2-2.3.0).
 */
export const EvolutionMessageKey = z.looseObject({
  remoteJid: z.string().min(1),
  fromMe: z.boolean().nullish(),
  id: z.string().min(1),
  participant: z.string().nullish(),
  participantAlt: z.string().nullish(),
  remoteJidAlt: z.string().nullish(),
  senderPn: z.string().nullish(),
  senderLid: z.string().nullish(),
  addressingMode: z.string().nullish(),
});
export type EvolutionMessageKey = z.infer<typeof EvolutionMessageKey>;

/**
 * Unix seconds. Evolution converts Baileys' Long to a number; a decimal string and a serialised
 * Long (`{ low, high, unsigned }`) are accepted too.
 */
export const EvolutionTimestamp = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+$/, 'expected unix seconds'),
  z.looseObject({ low: z.number().int(), high: z.number().int(), unsigned: z.boolean().optional() }),
]);
export type EvolutionTimestamp = z.infer<typeof EvolutionTimestamp>;

/** One message of a `messages.upsert` event. */
export const EvolutionMessageData = z.looseObject({
  key: EvolutionMessageKey,
  /** The sender's profile name; on a message we sent (`fromMe`) it is the business's own name. */
  pushName: z.string().nullish(),
  status: z.unknown().optional(),
  /** Baileys' `proto.IMessage` as JSON; absent on stubs (undecryptable messages, call notices). */
  message: z.record(z.string(), z.unknown()).nullish(),
  messageType: z.string().nullish(),
  messageTimestamp: EvolutionTimestamp.nullish(),
  instanceId: z.string().nullish(),
  source: z.string().nullish(),
});
export type EvolutionMessageData = z.infer<typeof EvolutionMessageData>;

// ---------------------------------------------------------------------------------------------
// message.* content (Baileys proto field names)
// ---------------------------------------------------------------------------------------------

const optionalText = z.string().nullish();

export const EvolutionTextContent = z.looseObject({ text: optionalText });
export const EvolutionCaptionedContent = z.looseObject({ caption: optionalText });
export const EvolutionLocationContent = z.looseObject({
  degreesLatitude: z.number().nullish(),
  degreesLongitude: z.number().nullish(),
  name: optionalText,
  address: optionalText,
  /** Live locations carry a caption instead of a name. */
  caption: optionalText,
});
export const EvolutionContactCard = z.looseObject({ displayName: optionalText, vcard: optionalText });
export const EvolutionContactsArrayContent = z.looseObject({
  displayName: optionalText,
  contacts: z.array(EvolutionContactCard).nullish(),
});
export const EvolutionButtonsResponseContent = z.looseObject({
  selectedButtonId: optionalText,
  selectedDisplayText: optionalText,
});
export const EvolutionListResponseContent = z.looseObject({
  title: optionalText,
  description: optionalText,
  singleSelectReply: z.looseObject({ selectedRowId: optionalText }).nullish(),
});
export const EvolutionTemplateButtonReplyContent = z.looseObject({
  selectedId: optionalText,
  selectedDisplayText: optionalText,
});
export const EvolutionInteractiveResponseContent = z.looseObject({
  body: z.looseObject({ text: optionalText }).nullish(),
});
export const EvolutionPollCreationContent = z.looseObject({
  name: optionalText,
  options: z.array(z.looseObject({ optionName: optionalText })).nullish(),
});

/**
 * Baileys content keys and the message type zapflow records for them (the Cloud API's names, so
 * that the conversation sees one vocabulary). A key not listed here is recorded under its own name.
 */
export const EVOLUTION_MESSAGE_TYPES: Readonly<Record<string, string>> = {
  conversation: 'text',
  extendedTextMessage: 'text',
  imageMessage: 'image',
  videoMessage: 'video',
  ptvMessage: 'video',
  audioMessage: 'audio',
  documentMessage: 'document',
  stickerMessage: 'sticker',
  locationMessage: 'location',
  liveLocationMessage: 'location',
  contactMessage: 'contacts',
  contactsArrayMessage: 'contacts',
  reactionMessage: 'reaction',
  buttonsResponseMessage: 'interactive',
  listResponseMessage: 'interactive',
  interactiveResponseMessage: 'interactive',
  templateButtonReplyMessage: 'button',
  pollCreationMessage: 'poll',
  pollCreationMessageV2: 'poll',
  pollCreationMessageV3: 'poll',
  orderMessage: 'order',
};

/** Envelopes whose `message` holds the actual content (`{ message: { imageMessage: ... } }`). */
export const EVOLUTION_WRAPPER_KEYS = [
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'viewOnceMessageV2Extension',
  'documentWithCaptionMessage',
] as const;

/**
 * Keys of `message` that are not content: context, key distribution, and what Evolution adds
 * (`base64` with webhook_base64, `mediaUrl` with S3, `speechToText` with its OpenAI integration).
 */
export const EVOLUTION_NON_CONTENT_KEYS = [
  'messageContextInfo',
  'senderKeyDistributionMessage',
  'base64',
  'mediaUrl',
  'speechToText',
] as const;

/**
 * Content that is not a message from the contact: deletions, edits, disappearing-message settings
 * (`protocolMessage`), an edit wrapper (`editedMessage`), and encrypted poll votes.
 */
export const EVOLUTION_NOT_A_MESSAGE_KEYS = ['protocolMessage', 'editedMessage', 'pollUpdateMessage'] as const;

// ---------------------------------------------------------------------------------------------
// messages.update
// ---------------------------------------------------------------------------------------------

/**
 * A message's status as Evolution writes it: Baileys' names (`SERVER_ACK`, `DELIVERY_ACK`, ...),
 * Meta's upper-cased on a Cloud-API-backed instance (`SENT`, `DELIVERED`, `READ`, `FAILED`), or
 * Baileys' number (0 ERROR .. 5 PLAYED) in the raw shape.
 */
export const EvolutionMessageStatus = z.union([z.string().min(1), z.number().int()]);

/**
 * One `messages.update` item as v2 sends it:
 *   { keyId, remoteJid, fromMe, participant?, status: "DELIVERY_ACK", messageId?, instanceId,
 *     pollUpdates?, message? }
 * (`messageId` is Evolution's database id, not WhatsApp's; `keyId` is WhatsApp's.) v1 spread the
 * key instead (`{ remoteJid, fromMe, id, status, datetime, owner }`), so `id` stands in for `keyId`.
 */
export const EvolutionMessageUpdate = z.looseObject({
  keyId: z.string().min(1).nullish(),
  id: z.string().min(1).nullish(),
  remoteJid: z.string().min(1),
  remoteJidAlt: z.string().nullish(),
  fromMe: z.boolean().nullish(),
  status: EvolutionMessageStatus.nullish(),
  /** v1: unix milliseconds of the change, by the server's clock. */
  datetime: z.number().nullish(),
});
export type EvolutionMessageUpdate = z.infer<typeof EvolutionMessageUpdate>;

/** Baileys' own `messages.update` item, `{ key, update: { status } }`, as older releases forwarded it. */
export const EvolutionBaileysMessageUpdate = z.looseObject({
  key: EvolutionMessageKey,
  update: z.looseObject({ status: EvolutionMessageStatus.nullish() }),
});
export type EvolutionBaileysMessageUpdate = z.infer<typeof EvolutionBaileysMessageUpdate>;

/** Baileys' numeric statuses (proto.WebMessageInfo.Status), by value. */
export const EVOLUTION_NUMERIC_STATUSES = ['ERROR', 'PENDING', 'SERVER_ACK', 'DELIVERY_ACK', 'READ', 'PLAYED'] as const;
