import { describeContent, OutgoingContent, TemplateContent } from './sender';
import { splitText } from './split-text';

/**
 * How an outbound message row keeps what it says: `payload.content` is the content to send, and
 * `payload.windowTemplate` its template equivalent, sent instead when the contact is outside the
 * 24-hour window. Rows written before content existed hold only a text `body`.
 */
export interface OutboundPayload {
  content: OutgoingContent;
  windowTemplate?: TemplateContent | undefined;
}

export function contentOf(row: { type: string; body: string | null; payload: unknown }): OutgoingContent {
  const stored = OutgoingContent.safeParse((row.payload as { content?: unknown } | null)?.content);
  if (stored.success) return stored.data;
  return { type: 'text', text: row.body ?? '' };
}

export function windowTemplateOf(row: { payload: unknown }): TemplateContent | undefined {
  const stored = TemplateContent.safeParse((row.payload as { windowTemplate?: unknown } | null)?.windowTemplate);
  return stored.success ? stored.data : undefined;
}

/** The rows (type, body, payload) that carry one content: a text longer than WhatsApp allows becomes several. */
export function outboundRows(
  content: OutgoingContent,
  { maxTextChars, windowTemplate }: { maxTextChars: number; windowTemplate?: TemplateContent | undefined },
): { type: string; body: string; payload: OutboundPayload }[] {
  const parts: OutgoingContent[] =
    content.type === 'text' ? splitText(content.text, maxTextChars).map((text) => ({ type: 'text', text })) : [content];
  return parts.map((part) => ({
    type: part.type,
    body: describeContent(part),
    payload: { content: part, ...(windowTemplate && { windowTemplate }) },
  }));
}

/**
 * The template equivalent of a bot reply, when operators configured one: an approved template
 * whose body has one parameter, filled with the reply. Meta refuses line breaks, tabs and long
 * runs of spaces in a parameter, and caps a template body at 1,024 characters.
 */
export function replyTemplate(
  text: string,
  template: { name: string; language: string } | undefined,
): TemplateContent | undefined {
  if (!template) return undefined;
  let param = text.replace(/\s+/g, ' ').trim();
  if (param.length > 900) param = `${param.slice(0, 899)}…`;
  return {
    name: template.name,
    language: template.language,
    components: [{ type: 'body', parameters: [{ type: 'text', text: param }] }],
  };
}
