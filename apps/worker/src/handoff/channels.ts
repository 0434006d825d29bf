import { createHmac } from 'node:crypto';
import axios from 'axios';
import nodemailer from 'nodemailer';
import type { WhatsAppSender } from '@zapflow/whatsapp';

/** What every channel says about a handoff. */
export interface HandoffNotice {
  notificationId: string;
  handoffId: string;
  conversationId: string;
  reason: string;
  detail: string | null;
  contact: { waId: string; name: string | null };
  /** The business number the conversation is on. */
  channelExternalId: string;
  lastMessages: { direction: string; text: string | null; at: string }[];
  createdAt: string;
}

/** What the team is told about a message that could not be sent (it is in the manual queue). */
export interface OperatorAlert {
  /** Unique per message and channel: an idempotency key for the receiver. */
  alertId: string;
  messageId: string;
  conversationId: string;
  contact: { waId: string; name: string | null };
  channelExternalId: string;
  body: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  failedAt: string | null;
}

export interface NotificationChannel {
  readonly name: 'email' | 'crm' | 'whatsapp';
  deliver(notice: HandoffNotice): Promise<void>;
  alert(alert: OperatorAlert): Promise<void>;
  close?(): Promise<void>;
}

const REASONS: Record<string, string> = {
  contact_asked: 'o cliente pediu para falar com uma pessoa',
  engine_tool: 'o assistente pediu ajuda humana',
  failed_turns: 'o assistente falhou várias vezes seguidas',
  operator: 'um operador assumiu',
};

/** The short text a person reads (e-mail body, WhatsApp message). */
export function describe(notice: HandoffNotice): string {
  const who = `${notice.contact.name ?? 'Cliente'} (+${notice.contact.waId})`;
  const why = REASONS[notice.reason] ?? notice.reason;
  const lines = notice.lastMessages.map(
    (m) => `${m.direction === 'inbound' ? 'Cliente' : 'Bot'}: ${m.text ?? '[mídia]'}`,
  );
  return [
    `Atendimento humano solicitado: ${who} — ${why}${notice.detail ? ` (${notice.detail})` : ''}.`,
    '',
    ...lines,
    '',
    `Conversa ${notice.conversationId}. Ao terminar, devolva ao bot: POST /api/conversations/${notice.conversationId}/release`,
  ].join('\n');
}

/** The short text a person reads about a message that could not be sent. */
export function describeAlert(alert: OperatorAlert): string {
  return [
    `Mensagem não enviada para ${alert.contact.name ?? 'Cliente'} (+${alert.contact.waId}): ${alert.errorCode ?? '?'} ${alert.errorMessage ?? ''}`.trim(),
    '',
    alert.body ?? '',
    '',
    `Está na fila manual: POST /api/manual-queue/${alert.messageId}/resend ou /discard`,
  ].join('\n');
}

export class EmailChannel implements NotificationChannel {
  readonly name = 'email' as const;
  private readonly transport: nodemailer.Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
    private readonly to: string,
  ) {
    this.transport = nodemailer.createTransport(smtpUrl);
  }

  async deliver(notice: HandoffNotice): Promise<void> {
    await this.transport.sendMail({
      from: this.from,
      to: this.to,
      subject: `[zapflow] Atendimento humano: ${notice.contact.name ?? notice.contact.waId}`,
      text: describe(notice),
      // Lets a mail system drop a duplicate if a retry follows a send whose answer was lost.
      messageId: `<${notice.notificationId}@zapflow>`,
    });
  }

  async alert(alert: OperatorAlert): Promise<void> {
    await this.transport.sendMail({
      from: this.from,
      to: this.to,
      subject: `[zapflow] Mensagem não enviada: ${alert.contact.name ?? alert.contact.waId}`,
      text: describeAlert(alert),
      messageId: `<${alert.alertId}@zapflow>`,
    });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/**
 * POSTs the handoff to a CRM as JSON, signed like Meta signs its webhooks
 * (`X-Zapflow-Signature-256: sha256=<HMAC of the body>`), with the notification id as an
 * idempotency key the CRM can use to ignore a retried delivery.
 */
export class CrmChannel implements NotificationChannel {
  readonly name = 'crm' as const;

  constructor(
    private readonly url: string,
    private readonly secret: string | undefined,
    private readonly timeoutMs = 10_000,
  ) {}

  async deliver(notice: HandoffNotice): Promise<void> {
    await this.post({ event: 'conversation.handoff', ...notice }, notice.notificationId);
  }

  async alert(alert: OperatorAlert): Promise<void> {
    await this.post({ event: 'message.send_failed', ...alert }, alert.alertId);
  }

  private async post(payload: object, idempotencyKey: string): Promise<void> {
    const body = JSON.stringify(payload);
    await axios.post(this.url, body, {
      timeout: this.timeoutMs,
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': idempotencyKey,
        ...(this.secret
          ? { 'X-Zapflow-Signature-256': `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}` }
          : {}),
      },
    });
  }
}

/** A WhatsApp message to the team's number, from the business number of the conversation. */
export class WhatsAppChannel implements NotificationChannel {
  readonly name = 'whatsapp' as const;

  constructor(
    private readonly sender: WhatsAppSender,
    private readonly to: string,
  ) {}

  async deliver(notice: HandoffNotice): Promise<void> {
    await this.sender.send({
      channelExternalId: notice.channelExternalId,
      to: this.to,
      content: { type: 'text', text: describe(notice) },
    });
  }

  async alert(alert: OperatorAlert): Promise<void> {
    await this.sender.send({
      channelExternalId: alert.channelExternalId,
      to: this.to,
      content: { type: 'text', text: describeAlert(alert) },
    });
  }
}
