import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpReceiver, waitFor, type ReceivedRequest } from '@zapflow/testkit';
import { EvolutionApiClient } from './evolution-api.client';
import { SendError } from './send-error';
import { OutgoingContent } from './sender';

const API_KEY = 'evo-global-key-7d1e';
const INSTANCE = 'loja-centro';
const TO = '5511988887777';
const MESSAGE_ID = '3EB0C767D26A8F2B1C4E';

let receiver: HttpReceiver;
let client: EvolutionApiClient;
let typingErrors: unknown[];

beforeAll(async () => {
  receiver = await new HttpReceiver().start();
  client = new EvolutionApiClient({
    baseUrl: `${receiver.url}/`,
    apiKey: API_KEY,
    instance: INSTANCE,
    timeoutMs: 1000,
    onTypingError: (error) => typingErrors.push(error),
  });
});
afterAll(async () => {
  await client.close();
  await receiver.stop();
});
beforeEach(() => {
  receiver.received.length = 0;
  typingErrors = [];
  // What v2 answers to a send: the message as it stored it (201 Created).
  receiver.respond = () => ({
    status: 201,
    body: {
      key: { remoteJid: `${TO}@s.whatsapp.net`, fromMe: true, id: MESSAGE_ID },
      pushName: '',
      status: 'PENDING',
      message: { conversation: 'x' },
      messageType: 'conversation',
      messageTimestamp: 1749416383,
      instanceId: 'bae4c7a2-5d0e-4a8f-9c1b-3e2f6a7d8c90',
      source: 'unknown',
    },
  });
});

function requests(): (ReceivedRequest & { json: unknown })[] {
  return receiver.received.map((r) => ({ ...r, json: JSON.parse(r.body) }));
}

/** Sends `content` (validated as callers must) and returns the one request Evolution received. */
async function requestFor(content: unknown, replyTo?: string): Promise<{ path: string; json: unknown }> {
  const result = await client.send({
    channelExternalId: INSTANCE,
    to: TO,
    content: OutgoingContent.parse(content),
    replyToProviderMessageId: replyTo,
  });
  expect(result).toEqual({ providerMessageId: MESSAGE_ID });
  const all = requests();
  expect(all).toHaveLength(1);
  return { path: all[0]!.path, json: all[0]!.json };
}

describe('EvolutionApiClient.send', () => {
  it('POSTs a text to /message/sendText/{instance} with the apikey header, and returns key.id', async () => {
    expect(await requestFor({ type: 'text', text: 'Olá! Abrimos às 9h.' })).toEqual({
      path: `/message/sendText/${INSTANCE}`,
      json: { number: TO, text: 'Olá! Abrimos às 9h.' },
    });
    const [request] = receiver.received;
    expect(request?.method).toBe('POST');
    expect(request?.headers.apikey).toBe(API_KEY);
    expect(request?.headers.authorization).toBeUndefined();
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
  });

  it('quotes the inbound message it replies to', async () => {
    expect((await requestFor({ type: 'text', text: 'Sim!' }, 'ABCDEF0123')).json).toEqual({
      number: TO,
      quoted: { key: { id: 'ABCDEF0123' } },
      text: 'Sim!',
    });
  });

  it('sends a template by name, language and components', async () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }];
    expect(
      await requestFor({ type: 'template', template: { name: 'pedido_enviado', language: 'pt_BR', components } }),
    ).toEqual({
      path: `/message/sendTemplate/${INSTANCE}`,
      json: { number: TO, name: 'pedido_enviado', language: 'pt_BR', components },
    });
  });

  it('sends reply buttons: header as title over the body, or the body as title', async () => {
    const buttons = [
      { id: 'confirm', title: 'Confirmar' },
      { id: 'reschedule', title: 'Remarcar' },
    ];
    expect(
      await requestFor({
        type: 'interactive',
        interactive: { kind: 'buttons', header: 'Sua entrega', body: 'Amanhã às 10h?', footer: 'Loja', buttons },
      }),
    ).toEqual({
      path: `/message/sendButtons/${INSTANCE}`,
      json: {
        number: TO,
        title: 'Sua entrega',
        description: 'Amanhã às 10h?',
        footer: 'Loja',
        buttons: [
          { type: 'reply', displayText: 'Confirmar', id: 'confirm' },
          { type: 'reply', displayText: 'Remarcar', id: 'reschedule' },
        ],
      },
    });
    receiver.received.length = 0;
    expect(
      (await requestFor({ type: 'interactive', interactive: { kind: 'buttons', body: 'Confirma?', buttons } })).json,
    ).toEqual({
      number: TO,
      title: 'Confirma?',
      buttons: [
        { type: 'reply', displayText: 'Confirmar', id: 'confirm' },
        { type: 'reply', displayText: 'Remarcar', id: 'reschedule' },
      ],
    });
  });

  it('sends a list with v2 field names (buttonText, footerText, rowId)', async () => {
    const interactive = {
      kind: 'list',
      header: 'Entrega',
      body: 'Escolha como receber o pedido',
      footer: 'Prazos em dias úteis',
      button: 'Ver opções',
      sections: [
        {
          title: 'Em casa',
          rows: [
            { id: 'express', title: 'Expressa', description: 'Chega amanhã' },
            { id: 'standard', title: 'Normal' },
          ],
        },
      ],
    };
    expect(await requestFor({ type: 'interactive', interactive })).toEqual({
      path: `/message/sendList/${INSTANCE}`,
      json: {
        number: TO,
        title: 'Entrega',
        description: 'Escolha como receber o pedido',
        buttonText: 'Ver opções',
        footerText: 'Prazos em dias úteis',
        sections: [
          {
            title: 'Em casa',
            rows: [
              { title: 'Expressa', description: 'Chega amanhã', rowId: 'express' },
              { title: 'Normal', rowId: 'standard' },
            ],
          },
        ],
      },
    });
  });

  it('fills what v2 requires of a list without header, footer or section title', async () => {
    const interactive = {
      kind: 'list',
      body: 'Escolha',
      button: 'Opções',
      sections: [{ rows: [{ id: 'a', title: 'A' }] }],
    };
    expect((await requestFor({ type: 'interactive', interactive })).json).toEqual({
      number: TO,
      title: '',
      description: 'Escolha',
      buttonText: 'Opções',
      footerText: '',
      sections: [{ title: 'Opções', rows: [{ title: 'A', rowId: 'a' }] }],
    });
  });

  it('sends an image, video or document by link through /message/sendMedia', async () => {
    expect(
      await requestFor({ type: 'image', media: { link: 'https://cdn.example.com/vitrine.jpg', caption: 'Vitrine' } }),
    ).toEqual({
      path: `/message/sendMedia/${INSTANCE}`,
      json: { number: TO, mediatype: 'image', media: 'https://cdn.example.com/vitrine.jpg', caption: 'Vitrine' },
    });
    receiver.received.length = 0;
    expect((await requestFor({ type: 'video', media: { link: 'https://cdn.example.com/demo.mp4' } })).json).toEqual({
      number: TO,
      mediatype: 'video',
      media: 'https://cdn.example.com/demo.mp4',
    });
    receiver.received.length = 0;
    const document = { link: 'https://cdn.example.com/boleto.pdf', caption: 'Seu boleto', filename: 'boleto-123.pdf' };
    expect((await requestFor({ type: 'document', media: document })).json).toEqual({
      number: TO,
      mediatype: 'document',
      media: 'https://cdn.example.com/boleto.pdf',
      caption: 'Seu boleto',
      fileName: 'boleto-123.pdf',
    });
  });

  it('sends audio as a voice note and stickers through their own routes', async () => {
    expect(
      await requestFor({ type: 'audio', media: { link: 'https://cdn.example.com/oi.ogg', caption: 'x' } }),
    ).toEqual({
      path: `/message/sendWhatsAppAudio/${INSTANCE}`,
      json: { number: TO, audio: 'https://cdn.example.com/oi.ogg' },
    });
    receiver.received.length = 0;
    expect(await requestFor({ type: 'sticker', media: { link: 'https://cdn.example.com/s.webp' } })).toEqual({
      path: `/message/sendSticker/${INSTANCE}`,
      json: { number: TO, sticker: 'https://cdn.example.com/s.webp' },
    });
  });

  it('refuses media given by a Cloud API media id, without a request and without retries', async () => {
    const error = await client
      .send({ channelExternalId: INSTANCE, to: TO, content: { type: 'image', media: { id: '1479537139650973' } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ code: 'unsupported_by_provider', retryable: false });
    expect(receiver.received).toHaveLength(0);
  });

  it('fails without retries when the answer carries no key.id', async () => {
    receiver.respond = () => ({ status: 201, body: { status: 'PENDING' } });
    const error = await client
      .send({ channelExternalId: INSTANCE, to: TO, content: { type: 'text', text: 'x' } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'no_message_id', retryable: false });
  });
});

describe('EvolutionApiClient.markRead', () => {
  const receipt = { channelExternalId: INSTANCE, from: TO, providerMessageId: MESSAGE_ID };
  const readRequest = {
    path: `/chat/markMessageAsRead/${INSTANCE}`,
    json: { readMessages: [{ remoteJid: `${TO}@s.whatsapp.net`, fromMe: false, id: MESSAGE_ID }] },
  };

  it('marks the message read, and nothing more without typing', async () => {
    receiver.respond = () => ({ status: 201, body: { message: 'Read messages', read: 'success' } });
    await client.markRead({ ...receipt, typing: false });
    expect(requests().map(({ path, json }) => ({ path, json }))).toEqual([readRequest]);
    expect(receiver.received[0]?.headers.apikey).toBe(API_KEY);
  });

  it('then shows "typing…" with sendPresence, without waiting for Evolution to hold it', async () => {
    let release!: () => void;
    const presenceHeld = new Promise<void>((resolve) => (release = resolve));
    receiver.respond = async (request) => {
      // Evolution answers sendPresence only after its `delay` of typing.
      if (request.path.startsWith('/chat/sendPresence')) await presenceHeld;
      return { status: 201, body: { message: 'ok' } };
    };
    try {
      await client.markRead({ ...receipt, typing: true });
      await waitFor('the presence request', () => receiver.received.length === 2);
      expect(requests().map(({ path, json }) => ({ path, json }))).toEqual([
        readRequest,
        {
          path: `/chat/sendPresence/${INSTANCE}`,
          json: { number: TO, presence: 'composing', delay: 3000 },
        },
      ]);
    } finally {
      release();
    }
  });

  it('reports a failed presence request to onTypingError, not to the caller', async () => {
    receiver.respond = (request) =>
      request.path.startsWith('/chat/sendPresence') ? { status: 500 } : { status: 201, body: { read: 'success' } };
    await client.markRead({ ...receipt, typing: true });
    await waitFor('the typing error', () => typingErrors.length === 1);
    expect(typingErrors[0]).toMatchObject({ code: 'http_500', retryable: true });
  });

  it('fails when marking read fails, and then shows no typing', async () => {
    receiver.respond = () => ({ status: 500 });
    const error = await client.markRead({ ...receipt, typing: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'http_500', retryable: true });
    expect(receiver.received).toHaveLength(1);
  });
});

describe('EvolutionApiClient errors', () => {
  const send = (sender = client) =>
    sender.send({ channelExternalId: INSTANCE, to: TO, content: { type: 'text', text: 'x' } }).catch((e: unknown) => e);

  it('fails a 400 without retries, with what Evolution said was wrong', async () => {
    receiver.respond = () => ({
      status: 400,
      body: {
        status: 400,
        error: 'Bad Request',
        response: { message: [{ exists: false, jid: `${TO}@s.whatsapp.net` }] },
      },
    });
    const error = await send();
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ code: 'http_400', retryable: false, httpStatus: 400 });
    expect((error as SendError).message).toContain('"exists":false');
  });

  it('keeps the code of a Meta error passed through by a Cloud-API-backed instance', async () => {
    receiver.respond = () => ({
      status: 400,
      body: {
        error: {
          message: '(#132001) Template name does not exist in the translation',
          type: 'OAuthException',
          code: 132001,
          error_data: { messaging_product: 'whatsapp', details: 'template name (pedido) does not exist in pt_BR' },
        },
      },
    });
    const error = await send();
    expect(error).toMatchObject({ code: '132001', retryable: false, httpStatus: 400 });
    expect((error as SendError).message).toContain('does not exist in pt_BR');
  });

  it('retries a 500', async () => {
    receiver.respond = () => ({
      status: 500,
      body: { status: 500, error: 'Internal Server Error', response: { message: 'Connection Closed' } },
    });
    const error = await send();
    expect(error).toMatchObject({ code: 'http_500', retryable: true, httpStatus: 500 });
    expect((error as SendError).message).toContain('Connection Closed');
  });

  it('retries a request that timed out, as a network error', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.respond = async () => {
      await held;
      return { status: 201, body: { key: { id: MESSAGE_ID } } };
    };
    const impatient = new EvolutionApiClient({
      baseUrl: receiver.url,
      apiKey: API_KEY,
      instance: INSTANCE,
      timeoutMs: 150,
    });
    try {
      const error = await send(impatient);
      expect(error).toBeInstanceOf(SendError);
      expect(error).toMatchObject({ code: 'network', retryable: true });
    } finally {
      release();
      await impatient.close();
    }
  });
});
