/**
 * Builders for realistic Evolution API (v2, Baileys channel) webhook payloads, for tests here and
 * elsewhere in the repo.
 *
 * They mirror what Evolution sends (its webhook controller's envelope, and the message it stores
 * and forwards for `messages.upsert`), including the fields zapflow does not read
 * (messageContextInfo, instanceId, source, status, destination, server_url), so that code tested
 * against them also copes with the real thing. Outputs are plain objects: tests may spread or
 * mutate them to build malformed variants.
 *
 *   messagesUpsert(textMessage({ from: '5511988887777', text: 'oi' }))
 *   messagesUpsert([textMessage(...), imageMessage(...)], { apikey: 'token' })
 *   messagesUpdate({ id: sentId, remoteJid: phoneJid('5511988887777'), status: 'DELIVERY_ACK' })
 */
import { randomBytes } from 'node:crypto';

export type Json = Record<string, unknown>;

export const DEFAULT_INSTANCE = 'zapflow-vendas';
export const DEFAULT_INSTANCE_ID = 'bae4c7a2-5d0e-4a8f-9c1b-3e2f6a7d8c90';
/** The business number behind the default instance (the envelope's `sender`). */
export const DEFAULT_OWNER_JID = '5511940028922@s.whatsapp.net';
export const DEFAULT_SERVER_URL = 'https://evolution.example.com';
export const DEFAULT_PUSH_NAME = 'Ana Souza';

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/** A fresh message id shaped like those of WhatsApp's phone apps (32 upper-case hex digits). */
export function fakeMessageId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** A fresh linked identity (`<15 digits>@lid`), as WhatsApp gives contacts who hide their number. */
export function fakeLid(): string {
  return `${[...randomBytes(15)].map((byte, index) => (index === 0 ? (byte % 9) + 1 : byte % 10)).join('')}@lid`;
}

/** A group chat JID (`<18 digits>@g.us`). */
export function fakeGroupJid(): string {
  return `120363${[...randomBytes(12)].map((byte) => byte % 10).join('')}@g.us`;
}

export function phoneJid(phone: string): string {
  return `${phone}@s.whatsapp.net`;
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

export interface EnvelopeOptions {
  instance?: string;
  /** The instance token Evolution puts in the body; null (the default) as when it is not exposed. */
  apikey?: string | null;
  /** The event name as Evolution writes it in the body. */
  event?: string;
}

/** The envelope every Evolution webhook delivery has, around any `data`. */
export function webhookBody(data: unknown, options: EnvelopeOptions = {}): Json {
  return {
    event: options.event ?? 'messages.upsert',
    instance: options.instance ?? DEFAULT_INSTANCE,
    data,
    destination: 'https://zapflow.example.com/webhook/evolution',
    date_time: new Date().toISOString(),
    sender: DEFAULT_OWNER_JID,
    server_url: DEFAULT_SERVER_URL,
    apikey: options.apikey ?? null,
  };
}

/** A `messages.upsert` delivery: one message as `data`, or several as an array. */
export function messagesUpsert(data: Json | Json[], options: EnvelopeOptions = {}): Json {
  return webhookBody(data, { ...options, event: options.event ?? 'messages.upsert' });
}

export interface StatusUpdateOptions {
  /** WhatsApp's id of the message (what the send answered as `key.id`). */
  id: string;
  remoteJid: string;
  /** v2 names (`DELIVERY_ACK`, ...), Meta's upper-cased ones (`DELIVERED`), or Baileys' number. */
  status?: string | number;
  /** True (the default) for a message the business sent. */
  fromMe?: boolean;
}

export interface StatusEnvelopeOptions {
  instance?: string;
  /** The envelope's `date_time` (Evolution's server clock); defaults to now. */
  dateTime?: string;
  /** The event name as written in the body. */
  event?: string;
}

function statusEnvelope(data: unknown, options: StatusEnvelopeOptions): Json {
  const body = webhookBody(data, { instance: options.instance, event: options.event ?? 'messages.update' });
  if (options.dateTime !== undefined) body.date_time = options.dateTime;
  return body;
}

/** Evolution's database id of a message (a cuid), which v2 puts in `messageId`; not WhatsApp's id. */
function evolutionRowId(): string {
  return `cm${randomBytes(12).toString('hex').slice(0, 23)}`;
}

/**
 * A status change of a message as Evolution v2 sends it (`messages.update`): `keyId` is the
 * message's WhatsApp id; `messageId` is Evolution's own row id.
 */
export function messagesUpdate(options: StatusUpdateOptions, envelope: StatusEnvelopeOptions = {}): Json {
  return statusEnvelope(statusUpdateData(options), envelope);
}

/** The `data` of a v2 `messages.update`, for deliveries that carry several. */
export function statusUpdateData(options: StatusUpdateOptions): Json {
  return {
    messageId: evolutionRowId(),
    keyId: options.id,
    remoteJid: options.remoteJid,
    fromMe: options.fromMe ?? true,
    status: options.status ?? 'READ',
    instanceId: DEFAULT_INSTANCE_ID,
  };
}

/** v1's shape: the message key spread out (`id`, not `keyId`), with `datetime` in epoch ms and `owner`. */
export function messagesUpdateV1(
  options: StatusUpdateOptions & { datetime?: number },
  envelope: StatusEnvelopeOptions = {},
): Json {
  return statusEnvelope(
    {
      remoteJid: options.remoteJid,
      fromMe: options.fromMe ?? true,
      id: options.id,
      status: options.status ?? 'READ',
      datetime: options.datetime ?? Date.now(),
      owner: envelope.instance ?? DEFAULT_INSTANCE,
    },
    envelope,
  );
}

/** Baileys' own event, as older releases forwarded it: an array of `{ key, update: { status: 0..5 } }`. */
export function messagesUpdateBaileys(
  updates: (StatusUpdateOptions & { remoteJidAlt?: string })[],
  envelope: StatusEnvelopeOptions = {},
): Json {
  return statusEnvelope(
    updates.map((u) => ({
      key: {
        remoteJid: u.remoteJid,
        fromMe: u.fromMe ?? true,
        id: u.id,
        ...(u.remoteJidAlt !== undefined && { remoteJidAlt: u.remoteJidAlt, addressingMode: 'lid' }),
      },
      update: { status: u.status ?? 4 },
    })),
    envelope,
  );
}

export function connectionUpdate(state: 'open' | 'close' | 'connecting' = 'open'): Json {
  return webhookBody(
    { instance: DEFAULT_INSTANCE, wuid: DEFAULT_OWNER_JID, profileName: 'Loja Exemplo', state, statusReason: 200 },
    { event: 'connection.update' },
  );
}

// ---------------------------------------------------------------------------------------------
// Messages (the `data` of messages.upsert)
// ---------------------------------------------------------------------------------------------

export interface MessageOptions {
  /** The contact's phone number (digits); the chat is `<from>@s.whatsapp.net` unless remoteJid is given. */
  from?: string;
  /** The chat JID, for `@lid`, group or broadcast chats. */
  remoteJid?: string;
  /** Baileys 7 / Evolution >= 2.3: the phone JID behind a `@lid` chat. */
  remoteJidAlt?: string;
  /** Baileys 6.7 / Evolution 2.2: the sender's phone JID on a `@lid` message. */
  senderPn?: string;
  /** The member who wrote, in a group. */
  participant?: string;
  fromMe?: boolean;
  id?: string;
  /** null omits it, as on some messages from contacts who have not set one. */
  pushName?: string | null;
  /** Date or unix seconds; defaults to now. */
  timestamp?: Date | number;
}

function messageContextInfo(): Json {
  return {
    deviceListMetadata: {
      senderKeyHash: randomBytes(10).toString('base64'),
      senderTimestamp: String(Math.floor(Date.now() / 1000) - 86_400),
      recipientKeyHash: randomBytes(10).toString('base64'),
      recipientTimestamp: String(Math.floor(Date.now() / 1000) - 3_600),
    },
    deviceListMetadataVersion: 2,
    messageSecret: randomBytes(32).toString('base64'),
  };
}

function unixSeconds(timestamp: Date | number | undefined): number {
  if (timestamp === undefined) return Math.floor(Date.now() / 1000);
  return timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : Math.floor(timestamp);
}

/** One message as Evolution forwards it; `content` is the Baileys message body under `message`. */
export function messageData(options: MessageOptions, messageType: string, content: Json): Json {
  const remoteJid = options.remoteJid ?? phoneJid(options.from ?? '5511988887777');
  const fromMe = options.fromMe ?? false;
  const pushName = options.pushName === undefined ? (fromMe ? 'Loja Exemplo' : DEFAULT_PUSH_NAME) : options.pushName;
  return {
    key: {
      remoteJid,
      fromMe,
      id: options.id ?? fakeMessageId(),
      ...(options.participant !== undefined && { participant: options.participant }),
      ...(options.remoteJidAlt !== undefined && { remoteJidAlt: options.remoteJidAlt, addressingMode: 'lid' }),
      ...(options.senderPn !== undefined && { senderPn: options.senderPn }),
    },
    ...(pushName !== null && { pushName }),
    status: fromMe ? 'SERVER_ACK' : 'DELIVERY_ACK',
    message: { ...content, messageContextInfo: messageContextInfo() },
    messageType,
    messageTimestamp: unixSeconds(options.timestamp),
    instanceId: DEFAULT_INSTANCE_ID,
    source: fromMe ? 'web' : 'android',
  };
}

/** A plain text message (`conversation`), what most phones send. */
export function textMessage(options: MessageOptions & { text: string }): Json {
  return messageData(options, 'conversation', { conversation: options.text });
}

/** Text with a link preview or a quote (`extendedTextMessage`). */
export function extendedTextMessage(options: MessageOptions & { text: string; quotedId?: string }): Json {
  return messageData(options, 'extendedTextMessage', {
    extendedTextMessage: {
      text: options.text,
      previewType: 'NONE',
      ...(options.quotedId !== undefined && {
        contextInfo: {
          stanzaId: options.quotedId,
          participant: DEFAULT_OWNER_JID,
          quotedMessage: { conversation: 'Olá! Como posso ajudar?' },
        },
      }),
      inviteLinkGroupTypeV2: 'DEFAULT',
    },
  });
}

function media(mimetype: string, extra: Json = {}): Json {
  return {
    url: `https://mmg.whatsapp.net/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc?ccb=11-4`,
    mimetype,
    fileSha256: randomBytes(32).toString('base64'),
    fileLength: String(10_000 + (randomBytes(2).readUInt16BE() % 90_000)),
    mediaKey: randomBytes(32).toString('base64'),
    fileEncSha256: randomBytes(32).toString('base64'),
    directPath: `/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc`,
    mediaKeyTimestamp: String(Math.floor(Date.now() / 1000)),
    ...extra,
  };
}

export function imageMessage(options: MessageOptions & { caption?: string }): Json {
  return messageData(options, 'imageMessage', {
    imageMessage: media('image/jpeg', {
      height: 1280,
      width: 960,
      ...(options.caption !== undefined && { caption: options.caption }),
      jpegThumbnail: randomBytes(24).toString('base64'),
    }),
  });
}

export function videoMessage(options: MessageOptions & { caption?: string }): Json {
  return messageData(options, 'videoMessage', {
    videoMessage: media('video/mp4', {
      seconds: 12,
      height: 848,
      width: 480,
      ...(options.caption !== undefined && { caption: options.caption }),
    }),
  });
}

/** A voice note (`ptt: true`) by default; `speechToText` as Evolution's OpenAI integration adds it. */
export function audioMessage(options: MessageOptions & { ptt?: boolean; speechToText?: string }): Json {
  const data = messageData(options, 'audioMessage', {
    audioMessage: media('audio/ogg; codecs=opus', { seconds: 4, ptt: options.ptt ?? true }),
  });
  if (options.speechToText !== undefined) (data.message as Json).speechToText = options.speechToText;
  return data;
}

export function documentMessage(options: MessageOptions & { fileName?: string; caption?: string }): Json {
  const fileName = options.fileName ?? 'boleto.pdf';
  const document = media('application/pdf', { title: fileName, fileName, pageCount: 1 });
  if (options.caption === undefined) return messageData(options, 'documentMessage', { documentMessage: document });
  // WhatsApp wraps a captioned document.
  return messageData(options, 'documentWithCaptionMessage', {
    documentWithCaptionMessage: { message: { documentMessage: { ...document, caption: options.caption } } },
  });
}

export function stickerMessage(options: MessageOptions): Json {
  return messageData(options, 'stickerMessage', {
    stickerMessage: media('image/webp', { height: 64, width: 64, isAnimated: false, isAvatar: false }),
  });
}

export function locationMessage(
  options: MessageOptions & { latitude: number; longitude: number; name?: string; address?: string },
): Json {
  return messageData(options, 'locationMessage', {
    locationMessage: {
      degreesLatitude: options.latitude,
      degreesLongitude: options.longitude,
      ...(options.name !== undefined && { name: options.name }),
      ...(options.address !== undefined && { address: options.address }),
      jpegThumbnail: randomBytes(24).toString('base64'),
    },
  });
}

function vcard(name: string, phone: string): string {
  return `BEGIN:VCARD\nVERSION:3.0\nN:;${name};;;\nFN:${name}\nTEL;type=CELL;waid=${phone}:+${phone}\nEND:VCARD`;
}

/** One shared contact card (`contactMessage`), or several (`contactsArrayMessage`). */
export function contactsMessage(options: MessageOptions & { contacts: { name: string; phone: string }[] }): Json {
  const cards = options.contacts.map(({ name, phone }) => ({ displayName: name, vcard: vcard(name, phone) }));
  if (cards.length === 1) return messageData(options, 'contactMessage', { contactMessage: cards[0] });
  return messageData(options, 'contactsArrayMessage', {
    contactsArrayMessage: { displayName: `${cards.length} contatos`, contacts: cards },
  });
}

/** A reaction to a message; an empty `emoji` is a removed reaction. */
export function reactionMessage(options: MessageOptions & { messageId: string; emoji: string }): Json {
  return messageData(options, 'reactionMessage', {
    reactionMessage: {
      key: {
        remoteJid: options.remoteJid ?? phoneJid(options.from ?? '5511988887777'),
        fromMe: true,
        id: options.messageId,
      },
      text: options.emoji,
      senderTimestampMs: String(Date.now()),
    },
  });
}

export function buttonsResponseMessage(options: MessageOptions & { buttonId: string; text: string }): Json {
  return messageData(options, 'buttonsResponseMessage', {
    buttonsResponseMessage: {
      selectedButtonId: options.buttonId,
      selectedDisplayText: options.text,
      contextInfo: { stanzaId: fakeMessageId(), participant: DEFAULT_OWNER_JID },
      type: 'DISPLAY_TEXT',
    },
  });
}

export function listResponseMessage(options: MessageOptions & { rowId: string; title: string }): Json {
  return messageData(options, 'listResponseMessage', {
    listResponseMessage: {
      title: options.title,
      listType: 'SINGLE_SELECT',
      singleSelectReply: { selectedRowId: options.rowId },
      contextInfo: { stanzaId: fakeMessageId(), participant: DEFAULT_OWNER_JID },
    },
  });
}

export function templateButtonReplyMessage(options: MessageOptions & { id: string; text: string }): Json {
  return messageData(options, 'templateButtonReplyMessage', {
    templateButtonReplyMessage: { selectedId: options.id, selectedDisplayText: options.text, selectedIndex: 0 },
  });
}

export function pollCreationMessage(options: MessageOptions & { name: string; choices: string[] }): Json {
  return messageData(options, 'pollCreationMessageV3', {
    pollCreationMessageV3: {
      name: options.name,
      options: options.choices.map((optionName) => ({ optionName })),
      selectableOptionsCount: 1,
    },
  });
}

/** A message deleted for everyone (`protocolMessage` of type REVOKE). */
export function revokeMessage(options: MessageOptions & { messageId: string }): Json {
  return messageData(options, 'protocolMessage', {
    protocolMessage: {
      key: {
        remoteJid: options.remoteJid ?? phoneJid(options.from ?? '5511988887777'),
        fromMe: false,
        id: options.messageId,
      },
      type: 'REVOKE',
    },
  });
}

/** Wraps a message's content in a disappearing-messages envelope (`ephemeralMessage`). */
export function ephemeral(data: Json): Json {
  const { messageContextInfo: context, ...content } = data.message as Json;
  return {
    ...data,
    message: { ephemeralMessage: { message: content }, messageContextInfo: context },
    messageType: 'ephemeralMessage',
  };
}
