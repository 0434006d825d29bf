/**
 * Reading Meta WhatsApp Cloud API webhook notifications.
 * `extractEvents` is the entry point; the schemas are exported for callers that validate or type
 * payloads themselves, and `webhookFixtures` builds realistic payloads for tests.
 */
export { extractEvents, summarizeMessage } from './extract';
export type { ExtractedEvents, InboundMessage, SkippedContent, StatusUpdate } from './extract';
export * from './notification.schema';
export { idChangeOf } from './number-change';
export { unixSecondsToDate } from './timestamp';
export * as webhookFixtures from './fixtures';
