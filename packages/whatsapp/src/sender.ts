/** One message to send, from a business number to a WhatsApp user. */
export interface OutgoingMessage {
  /** The business number: a Cloud API phone_number_id (or an Evolution instance). */
  channelExternalId: string;
  /** The recipient's wa_id. */
  to: string;
  type: 'text';
  body: string;
  /** Quote this inbound message in the reply. */
  replyToProviderMessageId?: string | undefined;
}

export interface SendResult {
  providerMessageId: string;
}

/** Everything that sends: the Cloud API, Evolution API, or the sandbox that only records. */
export interface WhatsAppSender {
  readonly provider: 'cloud' | 'evolution' | 'sandbox';
  send(message: OutgoingMessage): Promise<SendResult>;
  close?(): Promise<void>;
}
