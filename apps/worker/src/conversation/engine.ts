import type { CatalogItemSummary } from '@zapflow/db';

/**
 * What the engine remembers about a contact between turns (stored on the conversation as JSON,
 * given back to the engine each turn). Add fields as optional: old rows must keep parsing.
 */
export interface ConversationContext {
  /** How the contact likes to be called, if they said. */
  name?: string;
  /** Catalog items (sku) the contact asked about, most recent last. */
  interests?: string[];
  /** Where the sale stands: greeting, browsing, interested, scheduling, scheduled, closed. */
  stage?: string;
  /** A visit or test drive the contact asked for, as they said it. */
  appointment?: string;
  /** The contact's language as last detected. */
  language?: 'pt' | 'en';
}

/** A catalog item as the engines see it: what search returns, without the database id. */
export type CatalogItemView = Omit<CatalogItemSummary, 'id'>;

/** What an engine may look up or do besides answering. */
export interface EngineTools {
  /** Items matching free text ("SUV", "corolla 2022", "até 100 mil"), best first, at most `limit`. */
  searchCatalog(query: string, limit?: number): Promise<CatalogItemView[]>;
}

/** What the engine reads: the new messages of this turn, with who wrote them and what came before. */
export interface EngineInput {
  conversationId: string;
  contact: { name: string | null; waId: string };
  /** The inbound messages this turn answers, oldest first (a burst is several). */
  messages: { type: string; text: string | null }[];
  /** Earlier messages of the conversation, oldest first. */
  history: { direction: 'inbound' | 'outbound'; text: string | null }[];
  context: ConversationContext;
}

export interface EngineReply {
  engine: string;
  replies: { type: 'text'; body: string }[];
  /** The engine decided a person should take over (the contact asked, or it cannot help). */
  handoff?: { reason: string };
  /** Updates to remember (merged into the stored context). */
  context?: Partial<ConversationContext>;
  /** Catalog items (sku) the contact showed interest in this turn. */
  interests?: string[];
  tokensIn?: number;
  tokensOut?: number;
}

/** An engine that failed for good (after its own retries); the turn answers with an apology. */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** A conversation engine: the built-in local one, or a model behind an OpenAI-compatible API. */
export interface ConversationEngine {
  readonly name: string;
  reply(input: EngineInput): Promise<EngineReply>;
}
