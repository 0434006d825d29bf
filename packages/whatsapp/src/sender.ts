import { z } from 'zod';

/** Meta's limit on a text message's body (characters); longer replies are split (`splitText`). */
export const TEXT_MAX_CHARS = 4096;

/** A message template approved in WhatsApp Manager: the only thing Meta delivers outside the 24-hour window. */
export const TemplateContent = z.object({
  name: z.string().min(1).max(512),
  /** The template's language code, e.g. `pt_BR`, `en_US`. */
  language: z.string().min(2).max(15),
  /** Meta's `components` array (header, body, button parameters), passed through as documented. */
  components: z.array(z.record(z.string(), z.unknown())).optional(),
});
export type TemplateContent = z.infer<typeof TemplateContent>;

const ReplyButton = z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) });
const ListRow = z.object({
  id: z.string().min(1).max(200),
  title: z.string().min(1).max(24),
  description: z.string().max(72).optional(),
});

/** Reply buttons (up to three) or a list of choices, as WhatsApp's interactive messages allow. */
export const InteractiveContent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('buttons'),
    header: z.string().max(60).optional(),
    body: z.string().min(1).max(1024),
    footer: z.string().max(60).optional(),
    buttons: z.array(ReplyButton).min(1).max(3),
  }),
  z.object({
    kind: z.literal('list'),
    header: z.string().max(60).optional(),
    body: z.string().min(1).max(4096),
    footer: z.string().max(60).optional(),
    /** The label of the button that opens the list. */
    button: z.string().min(1).max(20),
    // Meta: up to 10 sections but 10 rows in all, and every section titled once there are several.
    sections: z
      .array(z.object({ title: z.string().max(24).optional(), rows: z.array(ListRow).min(1).max(10) }))
      .min(1)
      .max(10)
      .refine((sections) => sections.reduce((rows, section) => rows + section.rows.length, 0) <= 10, {
        message: 'a list holds at most 10 rows across all its sections',
      })
      .refine((sections) => sections.length === 1 || sections.every((section) => section.title), {
        message: 'every section needs a title when a list has more than one',
      }),
  }),
]);
export type InteractiveContent = z.infer<typeof InteractiveContent>;

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

/** Media by the id Meta gave an upload, or by a public HTTPS link. */
export const MediaContent = z
  .object({
    id: z.string().min(1).optional(),
    link: z.url().optional(),
    /** Not allowed on audio and stickers. */
    caption: z.string().max(1024).optional(),
    /** Documents only: the file name the recipient sees. */
    filename: z.string().max(240).optional(),
  })
  .refine((m) => (m.id === undefined) !== (m.link === undefined), { message: 'give exactly one of id or link' });
export type MediaContent = z.infer<typeof MediaContent>;

/** What one outbound message says: stored with the message (`payload.content`) and handed to a sender. */
export const OutgoingContent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().min(1).max(TEXT_MAX_CHARS) }),
  z.object({ type: z.literal('template'), template: TemplateContent }),
  z.object({ type: z.literal('interactive'), interactive: InteractiveContent }),
  z.object({ type: z.enum(MEDIA_TYPES), media: MediaContent }),
]);
export type OutgoingContent = z.infer<typeof OutgoingContent>;

/** One message to send, from a business number to a WhatsApp user. */
export interface OutgoingMessage {
  /** The business number: a Cloud API phone_number_id (or an Evolution instance). */
  channelExternalId: string;
  /** The recipient's wa_id. */
  to: string;
  content: OutgoingContent;
  /** Quote this inbound message in the reply. */
  replyToProviderMessageId?: string | undefined;
}

export interface SendResult {
  providerMessageId: string;
}

/** An inbound message to mark as read, optionally showing the contact that a reply is being typed. */
export interface ReadReceipt {
  channelExternalId: string;
  /** The contact who sent it (Evolution addresses the chat by it). */
  from: string;
  providerMessageId: string;
  /** Show "typing…" until the reply is sent (Meta clears it after 25 s or at the reply). */
  typing: boolean;
}

/** Everything that sends: the Cloud API, Evolution API, or the sandbox that only records. */
export interface WhatsAppSender {
  readonly provider: 'cloud' | 'evolution' | 'sandbox';
  send(message: OutgoingMessage): Promise<SendResult>;
  /** Blue ticks (and the typing indicator): a courtesy, so callers treat a failure as harmless. */
  markRead(receipt: ReadReceipt): Promise<void>;
  close?(): Promise<void>;
}

/** A one-line human-readable rendering of any content (logs, the sandbox, the manual queue). */
export function describeContent(content: OutgoingContent): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'template':
      return `[template ${content.template.name} (${content.template.language})]`;
    case 'interactive':
      return content.interactive.body;
    default:
      return content.media.caption ?? `[${content.type} ${content.media.link ?? content.media.id}]`;
  }
}
