import { SendError } from './send-error';
import type { InteractiveContent, OutgoingMessage, ReadReceipt } from './sender';

// Requests of Evolution API v2, as its sources define them (EvolutionAPI/evolution-api:
// src/api/routes/sendMessage.router.ts and chat.router.ts for the routes, src/validate/
// message.schema.ts and chat.schema.ts for the required fields, src/api/dto/sendMessage.dto.ts
// for the DTOs). Every route ends in the instance name; every body names the recipient `number`.

type Json = Record<string, unknown>;

export interface EvolutionRequest {
  /** The route without the instance: `/message/sendText`. */
  route: string;
  body: Json;
}

/** How long Evolution shows "typing…" (`composing`) before it sends `paused` itself. */
export const EVOLUTION_TYPING_MS = 3000;

export function evolutionSendRequest(message: OutgoingMessage): EvolutionRequest {
  const base: Json = {
    number: message.to,
    // v2 looks the quoted message up by its id and sends unquoted when it does not know it.
    ...(message.replyToProviderMessageId && { quoted: { key: { id: message.replyToProviderMessageId } } }),
  };
  const content = message.content;
  switch (content.type) {
    case 'text':
      return { route: '/message/sendText', body: { ...base, text: content.text } };
    case 'template': {
      // Only a Cloud-API-backed (WHATSAPP-BUSINESS) instance can send one; a Baileys instance
      // answers 4xx, which fails the send without retries.
      const { name, language, components } = content.template;
      return { route: '/message/sendTemplate', body: { ...base, name, language, ...(components && { components }) } };
    }
    case 'interactive':
      return evolutionInteractive(base, content.interactive);
    default: {
      const { link, caption, filename } = content.media;
      if (link === undefined) {
        throw new SendError(
          `Evolution API cannot send ${content.type} by a Cloud API media id; give a link`,
          'unsupported_by_provider',
          false,
        );
      }
      switch (content.type) {
        case 'audio':
          // Sent as a voice note (Evolution converts it to opus/ptt); audio takes no caption.
          return { route: '/message/sendWhatsAppAudio', body: { ...base, audio: link } };
        case 'sticker':
          return { route: '/message/sendSticker', body: { ...base, sticker: link } };
        default:
          return {
            route: '/message/sendMedia',
            body: {
              ...base,
              mediatype: content.type,
              media: link,
              ...(caption && { caption }),
              ...(filename && content.type === 'document' && { fileName: filename }),
            },
          };
      }
    }
  }
}

/**
 * v2 has no header field. A buttons message's `title` is rendered bold above its `description`
 * (Evolution writes `*title*`), so with our header that is header over body, and without one the
 * body itself is the title (an empty title would show a stray "**"). A list's `title` is its own
 * heading and may be empty, so the body always goes in `description`.
 */
function evolutionInteractive(base: Json, interactive: InteractiveContent): EvolutionRequest {
  if (interactive.kind === 'buttons') {
    return {
      route: '/message/sendButtons',
      body: {
        ...base,
        ...(interactive.header
          ? { title: interactive.header, description: interactive.body }
          : { title: interactive.body }),
        ...(interactive.footer && { footer: interactive.footer }),
        buttons: interactive.buttons.map(({ id, title }) => ({ type: 'reply', displayText: title, id })),
      },
    };
  }
  return {
    route: '/message/sendList',
    body: {
      ...base,
      title: interactive.header ?? '',
      description: interactive.body,
      buttonText: interactive.button,
      // Required by v2's schema, though it may be empty.
      footerText: interactive.footer ?? '',
      sections: interactive.sections.map((section) => ({
        // Required and non-empty in v2; an untitled section (Meta allows one) takes the button label.
        title: section.title || interactive.button,
        rows: section.rows.map(({ id, title, description }) => ({
          title,
          ...(description && { description }),
          rowId: id,
        })),
      })),
    },
  };
}

/** Blue ticks for a message from the contact: v2's `readMessages` keys (remoteJid, fromMe, id). */
export function evolutionReadRequest(receipt: ReadReceipt): EvolutionRequest {
  return {
    route: '/chat/markMessageAsRead',
    body: {
      readMessages: [{ remoteJid: `${receipt.from}@s.whatsapp.net`, fromMe: false, id: receipt.providerMessageId }],
    },
  };
}

/** "typing…" in the contact's chat; v2 requires number, presence and delay. */
export function evolutionTypingRequest(receipt: ReadReceipt): EvolutionRequest {
  return {
    route: '/chat/sendPresence',
    body: { number: receipt.from, presence: 'composing', delay: EVOLUTION_TYPING_MS },
  };
}
