import { describe, expect, it } from '@jest/globals';
import { replaceRandomNode, seededRandom } from '@zapflow/testkit';
import { evolutionApiKeyOf, extractEvolutionEvents, type EvolutionEvents, type EvolutionInbound } from './extract';
import {
  DEFAULT_INSTANCE,
  audioMessage,
  buttonsResponseMessage,
  connectionUpdate,
  contactsMessage,
  documentMessage,
  ephemeral,
  extendedTextMessage,
  fakeGroupJid,
  fakeLid,
  fakeMessageId,
  imageMessage,
  listResponseMessage,
  locationMessage,
  messageData,
  messagesUpdate,
  messagesUpdateBaileys,
  messagesUpdateV1,
  messagesUpsert,
  phoneJid,
  pollCreationMessage,
  reactionMessage,
  revokeMessage,
  statusUpdateData,
  stickerMessage,
  templateButtonReplyMessage,
  textMessage,
  videoMessage,
  webhookBody,
  type Json,
  type MessageOptions,
} from './fixtures';
import { EvolutionMessageData, EvolutionMessageUpdate, EvolutionWebhookBody } from './webhook.schema';

const USER = '5511988887777';
const SENT_AT = new Date('2025-06-08T21:39:43.000Z');
const base: MessageOptions = { from: USER, timestamp: SENT_AT };

/** Extracts a single-message delivery and returns that message, failing loudly otherwise. */
function extractOne(data: Json): EvolutionInbound {
  const events = extractEvolutionEvents(messagesUpsert(data));
  expect(events.ignored).toEqual([]);
  expect(events.messages).toHaveLength(1);
  const [extracted] = events.messages;
  if (!extracted) throw new Error('no message extracted');
  return extracted;
}

function expectOnlyIgnored(events: EvolutionEvents, reason: RegExp, unrecognized: boolean): void {
  expect(events.messages).toEqual([]);
  expect(events.statuses).toEqual([]);
  expect(events.ignored).toEqual([{ reason: expect.stringMatching(reason), unrecognized }]);
}

function key(data: Json): Json {
  return data.key as Json;
}

describe('extractEvolutionEvents: a text message', () => {
  it('extracts instance, phone, push name, id, type, timestamp and text', () => {
    const id = fakeMessageId();
    const data = textMessage({ ...base, id, pushName: 'Ana Souza', text: 'Oi, vocês abrem sábado?' });

    expect(extractEvolutionEvents(messagesUpsert(data, { instance: 'loja-centro' }))).toEqual({
      messages: [
        {
          instance: 'loja-centro',
          waId: USER,
          profileName: 'Ana Souza',
          wamid: id,
          type: 'text',
          timestamp: SENT_AT,
          text: 'Oi, vocês abrem sábado?',
          fromMe: false,
          raw: data,
        },
      ],
      statuses: [],
      ignored: [],
    });
  });

  it('reads extendedTextMessage.text (links, quotes) as text', () => {
    expect(
      extractOne(extendedTextMessage({ ...base, text: 'veja https://x.y', quotedId: fakeMessageId() })),
    ).toMatchObject({ type: 'text', text: 'veja https://x.y' });
  });

  it('accepts messageTimestamp as a decimal string or a serialised Long', () => {
    const seconds = Math.floor(SENT_AT.getTime() / 1000);
    expect(extractOne({ ...textMessage({ ...base, text: 'a' }), messageTimestamp: String(seconds) }).timestamp).toEqual(
      SENT_AT,
    );
    const long = { low: seconds, high: 0, unsigned: true };
    expect(extractOne({ ...textMessage({ ...base, text: 'b' }), messageTimestamp: long }).timestamp).toEqual(SENT_AT);
  });

  it('omits the profile name when the contact has none', () => {
    expect(extractOne(textMessage({ ...base, text: 'oi', pushName: null }))).not.toHaveProperty('profileName');
    expect(extractOne(textMessage({ ...base, text: 'oi', pushName: '  ' }))).not.toHaveProperty('profileName');
  });

  it('finds the content from its key when messageType is missing', () => {
    const { messageType: _omitted, ...data } = imageMessage({ ...base, caption: 'foto' });
    expect(extractOne(data)).toMatchObject({ type: 'image', text: 'foto' });
  });
});

describe('extractEvolutionEvents: other message types', () => {
  it('uses the caption of an image, or null without one', () => {
    expect(extractOne(imageMessage({ ...base, caption: 'Essa cor tem?' }))).toMatchObject({
      type: 'image',
      text: 'Essa cor tem?',
    });
    expect(extractOne(imageMessage(base)).text).toBeNull();
  });

  it('uses the caption of a video', () => {
    expect(extractOne(videoMessage({ ...base, caption: 'Unboxing' }))).toMatchObject({
      type: 'video',
      text: 'Unboxing',
    });
  });

  it('uses the caption of a document, unwrapping documentWithCaptionMessage', () => {
    expect(extractOne(documentMessage({ ...base, caption: 'Segue o comprovante' }))).toMatchObject({
      type: 'document',
      text: 'Segue o comprovante',
    });
    expect(extractOne(documentMessage({ ...base, fileName: 'nota.pdf' }))).toMatchObject({
      type: 'document',
      text: null,
    });
  });

  it('extracts a voice note with null text, or the transcript Evolution adds', () => {
    expect(extractOne(audioMessage(base))).toMatchObject({ type: 'audio', text: null });
    expect(extractOne(audioMessage({ ...base, speechToText: 'quero pedir uma pizza' })).text).toBe(
      'quero pedir uma pizza',
    );
  });

  it('extracts a sticker with null text', () => {
    expect(extractOne(stickerMessage(base))).toMatchObject({ type: 'sticker', text: null });
  });

  it('summarises a location as "name, address (lat,lng)", or a dropped pin by its coordinates', () => {
    const place = locationMessage({
      ...base,
      latitude: -23.5614,
      longitude: -46.6559,
      name: 'MASP',
      address: 'Av. Paulista, 1578',
    });
    expect(extractOne(place)).toMatchObject({ type: 'location', text: 'MASP, Av. Paulista, 1578 (-23.5614,-46.6559)' });
    expect(extractOne(locationMessage({ ...base, latitude: 1.5, longitude: 2 })).text).toBe('(1.5,2)');
  });

  it('summarises shared contact cards by their names', () => {
    expect(
      extractOne(contactsMessage({ ...base, contacts: [{ name: 'Bruno', phone: '5511977776666' }] })),
    ).toMatchObject({ type: 'contacts', text: 'Bruno' });
    const two = contactsMessage({
      ...base,
      contacts: [
        { name: 'Bruno', phone: '5511977776666' },
        { name: 'Carla', phone: '5511966665555' },
      ],
    });
    expect(extractOne(two)).toMatchObject({ type: 'contacts', text: 'Bruno, Carla' });
  });

  it('uses the emoji of a reaction, or null when the reaction is removed', () => {
    const reacted = fakeMessageId();
    expect(extractOne(reactionMessage({ ...base, messageId: reacted, emoji: '👍' }))).toMatchObject({
      type: 'reaction',
      text: '👍',
    });
    expect(extractOne(reactionMessage({ ...base, messageId: reacted, emoji: '' })).text).toBeNull();
  });

  it('uses the text of a button, list or template reply', () => {
    expect(extractOne(buttonsResponseMessage({ ...base, buttonId: 'yes', text: 'Sim' }))).toMatchObject({
      type: 'interactive',
      text: 'Sim',
    });
    expect(extractOne(listResponseMessage({ ...base, rowId: 'row-2', title: 'Entrega expressa' }))).toMatchObject({
      type: 'interactive',
      text: 'Entrega expressa',
    });
    expect(extractOne(templateButtonReplyMessage({ ...base, id: 'stop', text: 'Parar promoções' }))).toMatchObject({
      type: 'button',
      text: 'Parar promoções',
    });
  });

  it('uses the question of a poll', () => {
    expect(extractOne(pollCreationMessage({ ...base, name: 'Qual sabor?', choices: ['A', 'B'] }))).toMatchObject({
      type: 'poll',
      text: 'Qual sabor?',
    });
  });

  it('unwraps disappearing messages (ephemeralMessage)', () => {
    expect(extractOne(ephemeral(extendedTextMessage({ ...base, text: 'some em 24h' })))).toMatchObject({
      type: 'text',
      text: 'some em 24h',
    });
  });

  it('keeps a message of an unknown content type under its own name, with null text', () => {
    const data = messageData(base, 'eventMessage', { eventMessage: { name: 'Festa', startTime: '1749416383' } });
    const extracted = extractOne(data);
    expect(extracted).toMatchObject({ type: 'eventMessage', text: null, waId: USER });
    expect(extracted.raw.message).toMatchObject({ eventMessage: { name: 'Festa' } });
  });

  it('keeps a content key that names an Object property under its own name', () => {
    const data = messageData(base, 'constructor', { constructor: { text: 'x' } });
    expect(extractOne(data)).toMatchObject({ type: 'constructor', text: null });
  });

  it('yields null text, not a lost message, for content of an unexpected shape', () => {
    const data = messageData(base, 'imageMessage', { imageMessage: { caption: 42 } });
    expect(extractOne(data)).toMatchObject({ type: 'image', text: null });
  });
});

describe('extractEvolutionEvents: who the contact is', () => {
  it('strips a device suffix from a phone JID', () => {
    expect(extractOne(textMessage({ ...base, remoteJid: `${USER}:12@s.whatsapp.net`, text: 'x' })).waId).toBe(USER);
  });

  it('resolves a @lid chat to the phone number in remoteJidAlt', () => {
    const data = textMessage({ ...base, remoteJid: fakeLid(), remoteJidAlt: phoneJid(USER), text: 'oi' });
    expect(extractOne(data)).toMatchObject({ waId: USER, text: 'oi' });
  });

  it('resolves a @lid chat to the phone number in senderPn', () => {
    const data = textMessage({ ...base, remoteJid: fakeLid(), senderPn: phoneJid(USER), text: 'oi' });
    expect(extractOne(data)).toMatchObject({ waId: USER, text: 'oi' });
  });

  it('ignores a @lid message without any phone number, as unrecognized', () => {
    const data = textMessage({ ...base, remoteJid: fakeLid(), text: 'quem sou eu' });
    expectOnlyIgnored(
      extractEvolutionEvents(messagesUpsert(data)),
      /^data \(message \w+\): .*@lid.*remoteJidAlt/,
      true,
    );
  });

  it('does not take senderPn for the contact on a message the business sent (it is the business)', () => {
    const data = textMessage({
      ...base,
      fromMe: true,
      remoteJid: fakeLid(),
      senderPn: '5511940028922@s.whatsapp.net',
      text: 'x',
    });
    expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(data)), /@lid/, true);
    const withAlt = { ...data, key: { ...key(data), remoteJidAlt: phoneJid(USER) } };
    expect(extractOne(withAlt)).toMatchObject({ waId: USER, fromMe: true });
  });

  it('marks a message the business sent as fromMe, with the contact as waId and no profile name', () => {
    const extracted = extractOne(textMessage({ ...base, fromMe: true, pushName: 'Loja Exemplo', text: 'Bom dia!' }));
    expect(extracted).toMatchObject({ waId: USER, fromMe: true, text: 'Bom dia!' });
    expect(extracted).not.toHaveProperty('profileName');
  });

  it('reads a missing fromMe as false', () => {
    const data = textMessage({ ...base, text: 'x' });
    delete key(data).fromMe;
    expect(extractOne(data).fromMe).toBe(false);
  });

  it('ignores group messages, not as unrecognized', () => {
    const data = textMessage({ ...base, remoteJid: fakeGroupJid(), participant: phoneJid(USER), text: 'oi grupo' });
    expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(data)), /group/, false);
  });

  it('ignores status posts, broadcast lists and channels', () => {
    for (const [remoteJid, reason] of [
      ['status@broadcast', /status post/],
      ['1749416383@broadcast', /broadcast list/],
      ['120363000000000001@newsletter', /channel/],
    ] as const) {
      const data = imageMessage({ ...base, remoteJid, participant: phoneJid(USER), caption: 'x' });
      expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(data)), reason, false);
    }
  });

  it('reports a chat JID of an unknown kind without echoing the whole JID', () => {
    const data = textMessage({ ...base, remoteJid: '13135550002@bot', text: 'x' });
    const events = extractEvolutionEvents(messagesUpsert(data));
    expectOnlyIgnored(events, /unknown kind \("@bot"\)/, true);
    expect(events.ignored[0]?.reason).not.toContain('13135550002');
  });
});

describe('extractEvolutionEvents: events and deliveries', () => {
  it('accepts the MESSAGES_UPSERT spelling', () => {
    const events = extractEvolutionEvents(
      messagesUpsert(textMessage({ ...base, text: 'x' }), { event: 'MESSAGES_UPSERT' }),
    );
    expect(events.messages).toHaveLength(1);
  });

  it('reads data given as an array of messages, each on its own', () => {
    const body = messagesUpsert([
      textMessage({ ...base, text: 'primeira' }),
      textMessage({ ...base, remoteJid: fakeGroupJid(), text: 'no grupo' }),
      'garbage' as unknown as Json,
      imageMessage({ ...base, from: '5521999990000', caption: 'segunda' }),
    ]);
    const events = extractEvolutionEvents(body);

    expect(events.messages.map((m) => [m.waId, m.text])).toEqual([
      [USER, 'primeira'],
      ['5521999990000', 'segunda'],
    ]);
    expect(events.ignored).toEqual([
      { reason: expect.stringMatching(/^data\[1\] \(message \w+\): group/), unrecognized: false },
      { reason: 'data[2] is "garbage", expected an object', unrecognized: true },
    ]);
  });

  it.each([
    ['connection.update', connectionUpdate()],
    ['send.message', messagesUpsert(textMessage({ ...base, fromMe: true, text: 'x' }), { event: 'send.message' })],
    ['presence.update', webhookBody({ id: phoneJid(USER), presences: {} }, { event: 'presence.update' })],
  ])('ignores a %s event, not as unrecognized', (event, body) => {
    expectOnlyIgnored(
      extractEvolutionEvents(body),
      new RegExp(`event "${event.replace('.', '\\.')}" is not handled`),
      false,
    );
  });

  it('ignores a deletion (protocolMessage), not as unrecognized', () => {
    const data = revokeMessage({ ...base, messageId: fakeMessageId() });
    expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(data)), /protocolMessage is not a message/, false);
  });

  it('ignores a stub without content (a message that could not be decrypted)', () => {
    const { message: _message, ...stub } = textMessage({ ...base, text: 'x' });
    const events = extractEvolutionEvents(messagesUpsert({ ...stub, messageType: 'unknown', messageStubType: 2 }));
    expectOnlyIgnored(events, /no message content/, false);
    const onlyContext = { ...stub, message: { messageContextInfo: {} } };
    expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(onlyContext)), /no message content/, false);
  });

  it('tolerates unknown fields at every level and keeps them in raw', () => {
    const data = textMessage({ ...base, text: 'oi' });
    const withExtras = {
      ...data,
      key: { ...key(data), isViewOnce: false, server_id: '123' },
      contextInfo: null,
      chatwootMessageId: 7,
      brandNew: { nested: [1, 2] },
    };
    const body = { ...messagesUpsert(withExtras), delivery: 1 };
    expect(extractEvolutionEvents(body).messages).toEqual([
      expect.objectContaining({ text: 'oi', raw: expect.objectContaining({ brandNew: { nested: [1, 2] } }) }),
    ]);
  });
});

describe('extractEvolutionEvents: malformed input', () => {
  it.each([
    ['null', null],
    ['an array', []],
    ['a number', 42],
    ['a string', '{"event":"messages.upsert"}'],
  ])('reports a body that is %s', (_label, body) => {
    expectOnlyIgnored(extractEvolutionEvents(body), /^body is .*, expected an object$/, true);
  });

  it('reports a body without event or instance', () => {
    expectOnlyIgnored(extractEvolutionEvents({ hello: 'world' }), /^body: /, true);
    const noInstance = { ...messagesUpsert(textMessage({ ...base, text: 'x' })), instance: undefined };
    expectOnlyIgnored(extractEvolutionEvents(noInstance), /^body: instance: /, true);
  });

  it('reports messages.upsert with missing, empty or odd data', () => {
    expectOnlyIgnored(extractEvolutionEvents(webhookBody(undefined)), /^data is missing, expected an object$/, true);
    expectOnlyIgnored(extractEvolutionEvents(webhookBody([])), /^data is an empty array$/, true);
    expectOnlyIgnored(extractEvolutionEvents(webhookBody(7)), /^data is a number/, true);
  });

  it.each([
    ['no key', (d: Json) => ({ ...d, key: undefined })],
    ['a key without id', (d: Json) => ({ ...d, key: { ...key(d), id: undefined } })],
    ['an empty id', (d: Json) => ({ ...d, key: { ...key(d), id: '' } })],
    ['a numeric remoteJid', (d: Json) => ({ ...d, key: { ...key(d), remoteJid: 5511 } })],
    ['a string fromMe', (d: Json) => ({ ...d, key: { ...key(d), fromMe: 'true' } })],
    ['a message that is a string', (d: Json) => ({ ...d, message: 'oi' })],
    ['a non-numeric timestamp', (d: Json) => ({ ...d, messageTimestamp: 'ontem' })],
    ['a negative timestamp', (d: Json) => ({ ...d, messageTimestamp: -1 })],
    ['an out-of-range timestamp', (d: Json) => ({ ...d, messageTimestamp: '99999999999999999999' })],
  ])('reports a message with %s', (_label, mutate) => {
    const events = extractEvolutionEvents(messagesUpsert(mutate(textMessage({ ...base, text: 'x' }))));
    expect(events.messages).toEqual([]);
    expect(events.ignored).toEqual([{ reason: expect.stringMatching(/^data/), unrecognized: true }]);
  });

  it('reports a message without a timestamp', () => {
    const { messageTimestamp: _t, ...data } = textMessage({ ...base, text: 'x' });
    expectOnlyIgnored(extractEvolutionEvents(messagesUpsert(data)), /messageTimestamp is missing/, true);
  });

  it('does not throw on deeply nested input', () => {
    let deep: unknown = 'bottom';
    for (let depth = 0; depth < 100_000; depth++) deep = { deep };
    const data = { ...textMessage({ ...base, text: 'deep' }), extra: deep };

    expect(extractEvolutionEvents(messagesUpsert(data)).messages).toHaveLength(1);
    expect(extractEvolutionEvents(deep).ignored).toHaveLength(1);
    expect(extractEvolutionEvents(webhookBody(deep)).ignored).toHaveLength(1);
    const nestedWrappers = messageData(base, 'ephemeralMessage', {});
    let wrapped: Json = { conversation: 'x' };
    for (let depth = 0; depth < 1000; depth++) wrapped = { ephemeralMessage: { message: wrapped } };
    nestedWrappers.message = wrapped;
    expect(() => extractEvolutionEvents(messagesUpsert(nestedWrappers))).not.toThrow();
  });

  it('does not throw when reading the input throws', () => {
    const hostile = { event: 'messages.upsert', instance: 'i' } as Record<string, unknown>;
    Object.defineProperty(hostile, 'data', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    const hostileMessage = textMessage({ ...base, text: 'x' });
    Object.defineProperty(hostileMessage, 'key', {
      enumerable: true,
      get: () => {
        throw new Error('bang');
      },
    });

    expectOnlyIgnored(extractEvolutionEvents(hostile), /^body: .*boom/, true);
    const events = extractEvolutionEvents(messagesUpsert([hostileMessage, textMessage({ ...base, text: 'ok' })]));
    expect(events.messages.map((m) => m.text)).toEqual(['ok']);
    expect(events.ignored).toEqual([{ reason: expect.stringMatching(/^data\[0\]: .*bang/), unrecognized: true }]);
  });

  it('never throws when any node of a valid payload is replaced by an odd value', () => {
    const oddValues: unknown[] = [
      null,
      undefined,
      0,
      -1,
      NaN,
      '',
      'x',
      true,
      [],
      {},
      [null],
      { 0: 1 },
      Symbol('s'),
      () => 1,
      10n,
    ];
    const random = seededRandom(7);
    for (let round = 0; round < 500; round++) {
      const body = messagesUpsert([
        textMessage({ ...base, text: 'a' }),
        ephemeral(locationMessage({ ...base, latitude: 1, longitude: 2, name: 'n' })),
        contactsMessage({
          ...base,
          remoteJid: fakeLid(),
          remoteJidAlt: phoneJid(USER),
          contacts: [
            { name: 'a', phone: '1' },
            { name: 'b', phone: '2' },
          ],
        }),
      ]);
      replaceRandomNode(body, oddValues[Math.floor(random() * oddValues.length)], random);
      const events = extractEvolutionEvents(body);
      expect(events.messages.length + events.ignored.length).toBeGreaterThan(0);
    }
  });
});

describe('extractEvolutionEvents: delivery statuses (messages.update)', () => {
  const NOW = new Date('2025-06-08T21:40:00.000Z');
  const CHANGED_AT = new Date(NOW.getTime() - 2_000);
  const at = { dateTime: CHANGED_AT.toISOString() };
  const sent = fakeMessageId();

  function extractStatuses(body: Json): EvolutionEvents['statuses'] {
    const events = extractEvolutionEvents(body, NOW);
    expect(events.ignored).toEqual([]);
    expect(events.messages).toEqual([]);
    return events.statuses;
  }

  it.each([
    ['SERVER_ACK', 'sent'],
    ['DELIVERY_ACK', 'delivered'],
    ['READ', 'read'],
    ['PLAYED', 'played'],
    ['ERROR', 'failed'],
  ])('reads v2 status %s as %s, for the message named by keyId', (providerStatus, status) => {
    const body = messagesUpdate(
      { id: sent, remoteJid: phoneJid(USER), status: providerStatus },
      { ...at, instance: 'loja-centro' },
    );
    expect(extractStatuses(body)).toEqual([
      { instance: 'loja-centro', wamid: sent, status, providerStatus, timestamp: CHANGED_AT, waId: USER },
    ]);
  });

  it.each([
    ['SENT', 'sent'],
    ['DELIVERED', 'delivered'],
    ['READ', 'read'],
    ['FAILED', 'failed'],
  ])("reads a Cloud-API-backed instance's %s as %s", (providerStatus, status) => {
    const body = messagesUpdate({ id: `wamid.${sent}`, remoteJid: phoneJid(USER), status: providerStatus }, at);
    expect(extractStatuses(body)).toEqual([expect.objectContaining({ wamid: `wamid.${sent}`, status })]);
  });

  it('reads v1 updates (id instead of keyId), timed by their own datetime', () => {
    const changed = new Date('2024-03-01T12:00:00.000Z');
    const body = messagesUpdateV1(
      { id: sent, remoteJid: phoneJid(USER), status: 'DELIVERY_ACK', datetime: changed.getTime() },
      { dateTime: 'garbage' },
    );
    expect(extractStatuses(body)).toEqual([
      expect.objectContaining({ wamid: sent, status: 'delivered', timestamp: changed, waId: USER }),
    ]);
  });

  it("reads Baileys' raw updates with numeric statuses, each on its own", () => {
    const ids = [fakeMessageId(), fakeMessageId(), fakeMessageId(), fakeMessageId(), fakeMessageId()];
    const body = messagesUpdateBaileys(
      [0, 2, 3, 4, 5].map((status, i) => ({ id: ids[i]!, remoteJid: phoneJid(USER), status })),
      at,
    );
    expect(extractStatuses(body).map((s) => [s.wamid, s.status, s.providerStatus])).toEqual([
      [ids[0], 'failed', 'ERROR'],
      [ids[1], 'sent', 'SERVER_ACK'],
      [ids[2], 'delivered', 'DELIVERY_ACK'],
      [ids[3], 'read', 'READ'],
      [ids[4], 'played', 'PLAYED'],
    ]);
  });

  it('reads several v2 updates of one delivery, skipping the ones that are not ours', () => {
    const other = fakeMessageId();
    const body = webhookBody(
      [
        statusUpdateData({ id: sent, remoteJid: phoneJid(USER), status: 'DELIVERY_ACK' }),
        statusUpdateData({ id: other, remoteJid: phoneJid(USER), status: 'READ', fromMe: false }),
        statusUpdateData({ id: sent, remoteJid: phoneJid(USER), status: 'READ' }),
      ],
      { event: 'messages.update' },
    );
    const events = extractEvolutionEvents(body, NOW);
    expect(events.statuses.map((s) => [s.wamid, s.status])).toEqual([
      [sent, 'delivered'],
      [sent, 'read'],
    ]);
    expect(events.ignored).toEqual([
      { reason: expect.stringMatching(/^data\[1\] .*from the contact/), unrecognized: false },
    ]);
  });

  it('accepts the MESSAGES_UPDATE spelling', () => {
    const body = messagesUpdate({ id: sent, remoteJid: phoneJid(USER) }, { ...at, event: 'MESSAGES_UPDATE' });
    expect(extractStatuses(body)).toHaveLength(1);
  });

  it('ignores the status of a message from the contact (our own read receipt), not as unrecognized', () => {
    const body = messagesUpdate({ id: sent, remoteJid: phoneJid(USER), status: 'READ', fromMe: false }, at);
    expectOnlyIgnored(extractEvolutionEvents(body, NOW), /from the contact/, false);
  });

  it('ignores PENDING, a deletion and an update without status (an edit, a poll vote), not as unrecognized', () => {
    for (const status of ['PENDING', 'DELETED', 1]) {
      const body = messagesUpdate({ id: sent, remoteJid: phoneJid(USER), status }, at);
      expectOnlyIgnored(extractEvolutionEvents(body, NOW), /is not a delivery status/, false);
    }
    const edit = messagesUpdate({ id: sent, remoteJid: phoneJid(USER) }, at);
    delete (edit.data as Json).status;
    expectOnlyIgnored(extractEvolutionEvents(edit, NOW), /no status/, false);
  });

  it('reports an unknown status as unrecognized', () => {
    for (const status of ['TELEPORTED', 'constructor', '__proto__', 9, -1]) {
      const body = messagesUpdate({ id: sent, remoteJid: phoneJid(USER), status }, at);
      expectOnlyIgnored(extractEvolutionEvents(body, NOW), /unknown status/, true);
    }
  });

  it('resolves the recipient like a message: device suffix, @lid with remoteJidAlt', () => {
    expect(extractStatuses(messagesUpdate({ id: sent, remoteJid: `${USER}:3@s.whatsapp.net` }, at))[0]?.waId).toBe(
      USER,
    );
    const lid = messagesUpdateBaileys(
      [{ id: sent, remoteJid: fakeLid(), remoteJidAlt: phoneJid(USER), status: 3 }],
      at,
    );
    expect(extractStatuses(lid)[0]).toMatchObject({ waId: USER, status: 'delivered' });
  });

  it('keeps the status of a @lid chat without a phone number, naming the recipient by its JID', () => {
    const jid = fakeLid();
    expect(extractStatuses(messagesUpdate({ id: sent, remoteJid: jid, status: 'READ' }, at))).toEqual([
      expect.objectContaining({ wamid: sent, status: 'read', waId: jid }),
    ]);
  });

  it('ignores statuses in groups, status posts and channels, not as unrecognized', () => {
    for (const remoteJid of [fakeGroupJid(), 'status@broadcast', '120363000000000001@newsletter']) {
      expectOnlyIgnored(extractEvolutionEvents(messagesUpdate({ id: sent, remoteJid }, at), NOW), /not/, false);
    }
  });

  it("takes the envelope's date_time when it is near our clock, else the time of receipt", () => {
    const timeOf = (dateTime: string) =>
      extractStatuses(messagesUpdate({ id: sent, remoteJid: phoneJid(USER) }, { dateTime }))[0]?.timestamp;
    expect(timeOf(new Date(NOW.getTime() - 5 * 60_000).toISOString())).toEqual(new Date(NOW.getTime() - 5 * 60_000));
    // Evolution writes the server's local time with a Z: on a server at UTC-3 it is 3 h behind.
    expect(timeOf(new Date(NOW.getTime() - 3 * 3_600_000).toISOString())).toEqual(NOW);
    expect(timeOf(new Date(NOW.getTime() + 2 * 3_600_000).toISOString())).toEqual(NOW);
    expect(timeOf('ontem')).toEqual(NOW);
    const noDate = messagesUpdate({ id: sent, remoteJid: phoneJid(USER) });
    noDate.date_time = null;
    expect(extractStatuses(noDate)[0]?.timestamp).toEqual(NOW);
  });

  it.each([
    ['no keyId nor id', (d: Json) => ({ ...d, keyId: undefined })],
    ['an empty keyId', (d: Json) => ({ ...d, keyId: '' })],
    ['no remoteJid', (d: Json) => ({ ...d, remoteJid: undefined })],
    ['a status that is an object', (d: Json) => ({ ...d, status: { code: 3 } })],
    ['a string fromMe', (d: Json) => ({ ...d, fromMe: 'true' })],
  ])('reports an update with %s', (_label, mutate) => {
    const body = messagesUpdate({ id: sent, remoteJid: phoneJid(USER) }, at);
    const events = extractEvolutionEvents({ ...body, data: mutate(body.data as Json) }, NOW);
    expect(events.statuses).toEqual([]);
    expect(events.ignored).toEqual([{ reason: expect.stringMatching(/^data/), unrecognized: true }]);
  });

  it('never throws when any node of a valid payload is replaced by an odd value', () => {
    const oddValues: unknown[] = [null, undefined, 0, -1, NaN, '', 'x', true, [], {}, [null], Symbol('s'), 10n];
    const random = seededRandom(11);
    for (let round = 0; round < 300; round++) {
      const body =
        round % 2 === 0
          ? webhookBody(
              [
                statusUpdateData({ id: sent, remoteJid: phoneJid(USER), status: 'DELIVERY_ACK' }),
                statusUpdateData({ id: sent, remoteJid: fakeLid(), status: 'READ' }),
              ],
              { event: 'messages.update' },
            )
          : messagesUpdateBaileys([{ id: sent, remoteJid: fakeLid(), remoteJidAlt: phoneJid(USER), status: 4 }]);
      replaceRandomNode(body, oddValues[Math.floor(random() * oddValues.length)], random);
      const events = extractEvolutionEvents(body, NOW);
      expect(events.statuses.length + events.ignored.length).toBeGreaterThan(0);
    }
  });
});

describe('evolutionApiKeyOf', () => {
  const body = messagesUpsert(textMessage({ ...base, text: 'x' }), { apikey: 'instance-token' });

  it('reads the apikey header, whatever its case', () => {
    expect(evolutionApiKeyOf({}, { apikey: 'header-key' })).toBe('header-key');
    expect(evolutionApiKeyOf({}, { ApiKey: 'header-key' })).toBe('header-key');
    expect(evolutionApiKeyOf({}, { apikey: ['first', 'second'] })).toBe('first');
  });

  it("reads the body's apikey field", () => {
    expect(evolutionApiKeyOf(body, {})).toBe('instance-token');
    expect(evolutionApiKeyOf(body)).toBe('instance-token');
  });

  it('prefers the header, which the operator sets for this purpose', () => {
    expect(evolutionApiKeyOf(body, { apikey: 'header-key' })).toBe('header-key');
  });

  it('gives undefined when neither carries a key', () => {
    expect(evolutionApiKeyOf(messagesUpsert(textMessage({ ...base, text: 'x' })), {})).toBeUndefined();
    expect(evolutionApiKeyOf({ apikey: '' }, { apikey: '' })).toBeUndefined();
    expect(evolutionApiKeyOf({ apikey: 42 }, { 'x-api-key': 'other' })).toBeUndefined();
    expect(evolutionApiKeyOf(null, {})).toBeUndefined();
    expect(evolutionApiKeyOf('apikey', {})).toBeUndefined();
  });

  it('does not throw when reading the body throws', () => {
    const hostile = {};
    Object.defineProperty(hostile, 'apikey', {
      get: () => {
        throw new Error('boom');
      },
    });
    expect(evolutionApiKeyOf(hostile, {})).toBeUndefined();
  });
});

describe('fixtures', () => {
  it('build deliveries that pass the envelope and message schemas', () => {
    const messages = [
      textMessage({ ...base, text: 'x' }),
      extendedTextMessage({ ...base, text: 't', quotedId: fakeMessageId() }),
      imageMessage({ ...base, caption: 'c' }),
      videoMessage(base),
      audioMessage(base),
      documentMessage({ ...base, caption: 'c' }),
      stickerMessage(base),
      locationMessage({ ...base, latitude: 1, longitude: 2 }),
      contactsMessage({ ...base, contacts: [{ name: 'a', phone: '1' }] }),
      reactionMessage({ ...base, messageId: fakeMessageId(), emoji: '❤️' }),
      buttonsResponseMessage({ ...base, buttonId: 'b', text: 't' }),
      listResponseMessage({ ...base, rowId: 'r', title: 't' }),
      templateButtonReplyMessage({ ...base, id: 'i', text: 't' }),
      pollCreationMessage({ ...base, name: 'p', choices: ['a'] }),
      ephemeral(textMessage({ ...base, text: 'e' })),
      textMessage({ ...base, remoteJid: fakeLid(), remoteJidAlt: phoneJid(USER), text: 'lid' }),
    ];
    const body = messagesUpsert(messages);

    expect(EvolutionWebhookBody.safeParse(body).error?.issues).toBeUndefined();
    for (const data of messages) expect(EvolutionMessageData.safeParse(data).error?.issues).toBeUndefined();
    expect(extractEvolutionEvents(body).messages).toHaveLength(messages.length);
    expect(body).toMatchObject({ instance: DEFAULT_INSTANCE, sender: expect.stringMatching(/@s\.whatsapp\.net$/) });
  });

  it('build status updates that pass the envelope and update schemas', () => {
    const id = fakeMessageId();
    for (const body of [
      messagesUpdate({ id, remoteJid: phoneJid(USER), status: 'DELIVERY_ACK' }),
      messagesUpdateV1({ id, remoteJid: phoneJid(USER) }),
    ]) {
      expect(EvolutionWebhookBody.safeParse(body).error?.issues).toBeUndefined();
      expect(EvolutionMessageUpdate.safeParse(body.data).error?.issues).toBeUndefined();
      expect(extractEvolutionEvents(body).statuses).toHaveLength(1);
    }
    expect(extractEvolutionEvents(messagesUpdateBaileys([{ id, remoteJid: phoneJid(USER) }])).statuses).toHaveLength(1);
  });
});
