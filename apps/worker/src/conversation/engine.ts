/** What the engine reads: the new messages of this turn, with who wrote them and what came before. */
export interface EngineInput {
  contact: { name: string | null; waId: string };
  /** The inbound messages this turn answers, oldest first. */
  messages: { type: string; text: string | null }[];
  /** Earlier messages of the conversation, oldest first. */
  history: { direction: 'inbound' | 'outbound'; text: string | null }[];
}

export interface EngineReply {
  engine: string;
  replies: { type: 'text'; body: string }[];
  tokensIn?: number;
  tokensOut?: number;
}

/** A conversation engine: the built-in local one, or a model behind an OpenAI-compatible API. */
export interface ConversationEngine {
  readonly name: string;
  reply(input: EngineInput): Promise<EngineReply>;
}
