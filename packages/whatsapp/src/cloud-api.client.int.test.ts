import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpReceiver, type ReceivedRequest } from '@zapflow/testkit';
import { CloudApiClient } from './cloud-api.client';
import { isBusinessScopedUserId } from './cloud-api.payload';
import { SendError } from './send-error';
import { OutgoingContent } from './sender';

const TOKEN = 'EAAG-test-token';
const PHONE_NUMBER_ID = '106540352242922';
const TO = '5511988887777';
const WAMID = 'wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABEYEjA5QkVFRDVBQTVDODFDOTg3MQA=';

let receiver: HttpReceiver;
let client: CloudApiClient;

beforeAll(async () => {
  receiver = await new HttpReceiver().start();
  client = new CloudApiClient({
    baseUrl: `${receiver.url}/`,
    apiVersion: 'v21.0',
    accessToken: TOKEN,
    timeoutMs: 1000,
  });
});
afterAll(async () => {
  await client.close();
  await receiver.stop();
});
beforeEach(() => {
  receiver.received.length = 0;
  // What the Cloud API answers to an accepted message.
  receiver.respond = () => ({
    body: { messaging_product: 'whatsapp', contacts: [{ input: TO, wa_id: TO }], messages: [{ id: WAMID }] },
  });
});

function only(): ReceivedRequest & { json: unknown } {
  expect(receiver.received).toHaveLength(1);
  const [request] = receiver.received;
  return { ...request!, json: JSON.parse(request!.body) };
}

/** Sends `content` (validated as callers must) and returns the body Meta received. */
async function bodyFor(content: unknown): Promise<unknown> {
  const result = await client.send({
    channelExternalId: PHONE_NUMBER_ID,
    to: TO,
    content: OutgoingContent.parse(content),
  });
  expect(result).toEqual({ providerMessageId: WAMID });
  return only().json;
}

const envelope = { messaging_product: 'whatsapp', recipient_type: 'individual', to: TO };

describe('CloudApiClient.send', () => {
  it('POSTs a text to /{version}/{phone_number_id}/messages with the bearer token, and returns the wamid', async () => {
    const result = await client.send({
      channelExternalId: PHONE_NUMBER_ID,
      to: TO,
      content: { type: 'text', text: 'Olá! Abrimos às 9h.' },
    });

    expect(result).toEqual({ providerMessageId: WAMID });
    const request = only();
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/v21.0/${PHONE_NUMBER_ID}/messages`);
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(request.json).toEqual({
      ...envelope,
      type: 'text',
      text: { body: 'Olá! Abrimos às 9h.', preview_url: false },
    });
  });

  it('quotes the inbound message it replies to (context.message_id)', async () => {
    await client.send({
      channelExternalId: PHONE_NUMBER_ID,
      to: TO,
      content: { type: 'text', text: 'Sim!' },
      replyToProviderMessageId: 'wamid.inbound.1',
    });
    expect(only().json).toEqual({
      ...envelope,
      context: { message_id: 'wamid.inbound.1' },
      type: 'text',
      text: { body: 'Sim!', preview_url: false },
    });
  });

  it('addresses a user known only by their business-scoped user ID through recipient, not to', async () => {
    for (const bsuid of ['US.13491208655302741918', 'BR.ENT.11815799212886844830', 'IN.abcXYZ123', 'us.1-2']) {
      receiver.received.length = 0;
      await client.send({ channelExternalId: PHONE_NUMBER_ID, to: bsuid, content: { type: 'text', text: 'Oi' } });
      const { to, ...withoutTo } = envelope;
      expect(to).toBe(TO);
      expect(only().json).toEqual({
        ...withoutTo,
        recipient: bsuid,
        type: 'text',
        text: { body: 'Oi', preview_url: false },
      });
    }
    expect(isBusinessScopedUserId('5511988887777')).toBe(false);
    expect(isBusinessScopedUserId('us.123')).toBe(false);
    expect(isBusinessScopedUserId('US.')).toBe(false);
  });

  it('escapes the phone number id in the path', async () => {
    await client.send({ channelExternalId: 'a/b?c', to: TO, content: { type: 'text', text: 'x' } });
    expect(only().path).toBe('/v21.0/a%2Fb%3Fc/messages');
  });

  it('sends a template with its language code and components', async () => {
    const components = [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }];
    expect(
      await bodyFor({ type: 'template', template: { name: 'pedido_enviado', language: 'pt_BR', components } }),
    ).toEqual({
      ...envelope,
      type: 'template',
      template: { name: 'pedido_enviado', language: { code: 'pt_BR' }, components },
    });
  });

  it('omits components from a template that has none', async () => {
    expect(await bodyFor({ type: 'template', template: { name: 'hello_world', language: 'en_US' } })).toEqual({
      ...envelope,
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    });
  });

  it('sends reply buttons with header and footer', async () => {
    const interactive = {
      kind: 'buttons',
      header: 'Sua entrega',
      body: 'Podemos entregar amanhã às 10h?',
      footer: 'Loja Exemplo',
      buttons: [
        { id: 'confirm', title: 'Confirmar' },
        { id: 'reschedule', title: 'Remarcar' },
      ],
    };
    expect(await bodyFor({ type: 'interactive', interactive })).toEqual({
      ...envelope,
      type: 'interactive',
      interactive: {
        type: 'button',
        header: { type: 'text', text: 'Sua entrega' },
        body: { text: 'Podemos entregar amanhã às 10h?' },
        footer: { text: 'Loja Exemplo' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'confirm', title: 'Confirmar' } },
            { type: 'reply', reply: { id: 'reschedule', title: 'Remarcar' } },
          ],
        },
      },
    });
  });

  it('leaves out the header and footer of buttons that have none', async () => {
    const interactive = { kind: 'buttons', body: 'Confirma?', buttons: [{ id: 'yes', title: 'Sim' }] };
    expect(await bodyFor({ type: 'interactive', interactive })).toEqual({
      ...envelope,
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'Confirma?' },
        action: { buttons: [{ type: 'reply', reply: { id: 'yes', title: 'Sim' } }] },
      },
    });
  });

  it('sends a list with its button label, sections and rows', async () => {
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
        { title: 'Na loja', rows: [{ id: 'pickup', title: 'Retirar na loja' }] },
      ],
    };
    expect(await bodyFor({ type: 'interactive', interactive })).toEqual({
      ...envelope,
      type: 'interactive',
      interactive: {
        type: 'list',
        header: { type: 'text', text: 'Entrega' },
        body: { text: 'Escolha como receber o pedido' },
        footer: { text: 'Prazos em dias úteis' },
        action: {
          button: 'Ver opções',
          sections: [
            {
              title: 'Em casa',
              rows: [
                { id: 'express', title: 'Expressa', description: 'Chega amanhã' },
                { id: 'standard', title: 'Normal' },
              ],
            },
            { title: 'Na loja', rows: [{ id: 'pickup', title: 'Retirar na loja' }] },
          ],
        },
      },
    });
  });

  it('sends media by id or by link, with a caption where Meta allows one', async () => {
    expect(await bodyFor({ type: 'image', media: { id: '1479537139650973', caption: 'Nossa vitrine' } })).toEqual({
      ...envelope,
      type: 'image',
      image: { id: '1479537139650973', caption: 'Nossa vitrine' },
    });
    receiver.received.length = 0;
    expect(await bodyFor({ type: 'video', media: { link: 'https://cdn.example.com/demo.mp4' } })).toEqual({
      ...envelope,
      type: 'video',
      video: { link: 'https://cdn.example.com/demo.mp4' },
    });
  });

  it('sends a document with its file name and caption', async () => {
    const media = { link: 'https://cdn.example.com/boleto.pdf', caption: 'Seu boleto', filename: 'boleto-123.pdf' };
    expect(await bodyFor({ type: 'document', media })).toEqual({
      ...envelope,
      type: 'document',
      document: { link: 'https://cdn.example.com/boleto.pdf', caption: 'Seu boleto', filename: 'boleto-123.pdf' },
    });
  });

  it('sends audio and stickers without caption or file name (Meta takes none)', async () => {
    const extras = { caption: 'ignored', filename: 'ignored.ogg' };
    expect(await bodyFor({ type: 'audio', media: { id: '998877', ...extras } })).toEqual({
      ...envelope,
      type: 'audio',
      audio: { id: '998877' },
    });
    receiver.received.length = 0;
    expect(await bodyFor({ type: 'sticker', media: { link: 'https://cdn.example.com/s.webp', ...extras } })).toEqual({
      ...envelope,
      type: 'sticker',
      sticker: { link: 'https://cdn.example.com/s.webp' },
    });
  });

  it('fails without retries when the answer carries no message id', async () => {
    receiver.respond = () => ({ body: { messaging_product: 'whatsapp', messages: [] } });
    const error = await client
      .send({ channelExternalId: PHONE_NUMBER_ID, to: TO, content: { type: 'text', text: 'x' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ code: 'no_message_id', retryable: false });
  });
});

describe('CloudApiClient.markRead', () => {
  it('marks the message read, without a typing indicator unless asked', async () => {
    await client.markRead({ channelExternalId: PHONE_NUMBER_ID, from: TO, providerMessageId: WAMID, typing: false });
    const request = only();
    expect(request.path).toBe(`/v21.0/${PHONE_NUMBER_ID}/messages`);
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.json).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: WAMID });
  });

  it('adds the typing indicator when asked', async () => {
    receiver.respond = () => ({ body: { success: true } });
    await client.markRead({ channelExternalId: PHONE_NUMBER_ID, from: TO, providerMessageId: WAMID, typing: true });
    expect(only().json).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: WAMID,
      typing_indicator: { type: 'text' },
    });
  });
});

describe('CloudApiClient errors', () => {
  const send = () =>
    client
      .send({ channelExternalId: PHONE_NUMBER_ID, to: TO, content: { type: 'text', text: 'x' } })
      .catch((e: unknown) => e);

  it('fails a 400 with a Meta error without retries, keeping its code and details', async () => {
    receiver.respond = () => ({
      status: 400,
      body: {
        error: {
          message: '(#131030) Recipient phone number not in allowed list',
          type: 'OAuthException',
          code: 131030,
          error_data: { messaging_product: 'whatsapp', details: 'Recipient phone number not in allowed list' },
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    });
    const error = await send();
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ code: '131030', retryable: false, httpStatus: 400 });
    expect((error as SendError).message).toContain('Recipient phone number not in allowed list');
  });

  it('retries a Meta throttling code even on a 400', async () => {
    receiver.respond = () => ({
      status: 400,
      body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429 } },
    });
    expect(await send()).toMatchObject({ code: '130429', retryable: true });
  });

  it('retries a 500', async () => {
    receiver.respond = () => ({ status: 500, body: { error: 'upstream' } });
    expect(await send()).toMatchObject({ code: 'http_500', retryable: true, httpStatus: 500 });
  });

  it('retries a request that timed out, as a network error', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.respond = async () => {
      await held;
      return { body: { messages: [{ id: WAMID }] } };
    };
    const impatient = new CloudApiClient({
      baseUrl: receiver.url,
      apiVersion: 'v21.0',
      accessToken: TOKEN,
      timeoutMs: 150,
    });
    try {
      const error = await impatient
        .send({ channelExternalId: PHONE_NUMBER_ID, to: TO, content: { type: 'text', text: 'x' } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SendError);
      expect(error).toMatchObject({ code: 'network', retryable: true });
      expect((error as SendError).message).toMatch(/timeout/);
    } finally {
      release();
      await impatient.close();
    }
  });

  it('fails markRead the same way (the caller decides it is harmless)', async () => {
    receiver.respond = () => ({ status: 500 });
    const error = await client
      .markRead({ channelExternalId: PHONE_NUMBER_ID, from: TO, providerMessageId: WAMID, typing: true })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'http_500', retryable: true });
  });
});
