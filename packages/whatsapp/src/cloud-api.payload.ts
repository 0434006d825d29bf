import type {
  InteractiveContent,
  MediaContent,
  MediaType,
  OutgoingContent,
  OutgoingMessage,
  ReadReceipt,
} from './sender';

// Request bodies of `POST /{phone_number_id}/messages` as Meta documents them (Cloud API
// "Messages" reference: text, template, interactive reply buttons and list, media messages; and
// "Typing indicators" for the read receipt).

type Json = Record<string, unknown>;

/** Captions are accepted on these media types only; audio and stickers take none. */
const CAPTIONED: readonly MediaType[] = ['image', 'video', 'document'];

/**
 * A business-scoped user ID: the user's ISO country code, a period, then letters and digits
 * (`US.13491208655302741918`), or a parent BSUID (`US.ENT.11815799212886844830`). A phone number
 * is digits only, so the two cannot be mistaken for each other.
 */
const BSUID = /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]+$/;

export function isBusinessScopedUserId(id: string): boolean {
  return BSUID.test(id);
}

/**
 * Who a message goes to. A number (digits only, as Meta's `wa_id`) in `to`; anything else is a
 * contact known only by their BSUID (a username user whose number Meta withholds), addressed
 * through `recipient`: Meta refuses a BSUID in `to` since February 2026, when BSUIDs moved to
 * fields of their own. Deciding by "digits or not" rather than by the BSUID's documented form
 * keeps an id in a form Meta adds later out of `to`.
 */
function addressee(to: string): Json {
  return /^\d+$/.test(to) ? { to } : { recipient: to };
}

export function cloudMessageBody(message: OutgoingMessage): Json {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    ...addressee(message.to),
    ...(message.replyToProviderMessageId && { context: { message_id: message.replyToProviderMessageId } }),
    ...cloudContent(message.content),
  };
}

/** Marks an inbound message read (blue ticks), with "typing…" shown until the reply or 25 s. */
export function cloudReadBody(receipt: ReadReceipt): Json {
  return {
    messaging_product: 'whatsapp',
    status: 'read',
    message_id: receipt.providerMessageId,
    ...(receipt.typing && { typing_indicator: { type: 'text' } }),
  };
}

function cloudContent(content: OutgoingContent): Json {
  switch (content.type) {
    case 'text':
      // No link previews: a preview fetched by WhatsApp can show something the reply did not mean.
      return { type: 'text', text: { body: content.text, preview_url: false } };
    case 'template': {
      const { name, language, components } = content.template;
      return { type: 'template', template: { name, language: { code: language }, ...(components && { components }) } };
    }
    case 'interactive':
      return { type: 'interactive', interactive: cloudInteractive(content.interactive) };
    default:
      return { type: content.type, [content.type]: cloudMedia(content.type, content.media) };
  }
}

function cloudInteractive(interactive: InteractiveContent): Json {
  // Meta refuses an empty header or footer text, so a blank one is left out rather than sent.
  const frame = {
    ...(interactive.header && { header: { type: 'text', text: interactive.header } }),
    body: { text: interactive.body },
    ...(interactive.footer && { footer: { text: interactive.footer } }),
  };
  if (interactive.kind === 'buttons') {
    return {
      type: 'button',
      ...frame,
      action: { buttons: interactive.buttons.map(({ id, title }) => ({ type: 'reply', reply: { id, title } })) },
    };
  }
  return {
    type: 'list',
    ...frame,
    action: {
      button: interactive.button,
      sections: interactive.sections.map((section) => ({
        ...(section.title && { title: section.title }),
        rows: section.rows.map(({ id, title, description }) => ({ id, title, ...(description && { description }) })),
      })),
    },
  };
}

function cloudMedia(type: MediaType, media: MediaContent): Json {
  return {
    ...(media.id !== undefined ? { id: media.id } : { link: media.link }),
    ...(media.caption && CAPTIONED.includes(type) && { caption: media.caption }),
    ...(media.filename && type === 'document' && { filename: media.filename }),
  };
}
