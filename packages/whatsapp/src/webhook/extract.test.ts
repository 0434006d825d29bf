import { describe, expect, it } from '@jest/globals';
import { replaceRandomNode, seededRandom } from '@zapflow/testkit';
import { extractEvents, type ExtractedEvents, type InboundMessage } from './extract';
import { idChangeOf } from './number-change';
import {
  adReferral,
  audioMessage,
  buttonReplyMessage,
  changeValue,
  contact,
  contactsMessage,
  documentMessage,
  fakeBsuid,
  fakeWamid,
  flowReplyMessage,
  forwardedContext,
  imageMessage,
  listReplyMessage,
  locationMessage,
  messagesNotification,
  metaError,
  notification,
  orderMessage,
  messageEchoesNotification,
  standbyNotification,
  otherFieldNotification,
  reactionMessage,
  replyContext,
  requestWelcomeMessage,
  statusNotification,
  statusUpdate,
  stickerMessage,
  systemMessage,
  templateButtonMessage,
  textMessage,
  textMessageNotification,
  unsupportedMessage,
  videoMessage,
  type Json,
  type MessageOptions,
  type WebhookPayload,
} from './fixtures';
import { WebhookNotification } from './notification.schema';

const PHONE_NUMBER_ID = '106540352242922';
const DISPLAY_PHONE_NUMBER = '15550783881';
const USER = '16505551234';
const SENT_AT = new Date('2025-06-08T21:39:43.000Z');
const base: MessageOptions = { from: USER, timestamp: SENT_AT };

/** Extracts a single-message delivery and returns that message, failing loudly otherwise. */
function extractOne(message: Json, profileName = 'Sheena Nelson'): InboundMessage {
  const events = extractEvents(
    messagesNotification({
      phoneNumberId: PHONE_NUMBER_ID,
      displayPhoneNumber: DISPLAY_PHONE_NUMBER,
      profileName,
      messages: [message],
    }),
  );
  expect(events.unrecognized).toEqual([]);
  expect(events.messages).toHaveLength(1);
  const [extracted] = events.messages;
  if (!extracted) throw new Error('no message extracted');
  return extracted;
}

function expectOnlyUnrecognized(events: ExtractedEvents, reason: RegExp): void {
  expect(events.messages).toEqual([]);
  expect(events.statuses).toEqual([]);
  expect(events.unrecognized).toHaveLength(1);
  expect(events.unrecognized[0]?.reason).toMatch(reason);
}

/** A delivery whose single change value is replaced by `value`. */
function bodyWithValue(value: unknown): Json {
  return { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value }] }] };
}

function omit(record: Json, ...keys: string[]): Json {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !keys.includes(key)));
}

function firstChangeValue(payload: WebhookPayload): Json {
  const value = payload.entry[0]?.changes[0]?.value;
  if (!value) throw new Error('fixture has no change value');
  return value;
}

describe('extractEvents: message types', () => {
  it('extracts a text message with sender, profile name, business number and timestamp', () => {
    const wamid = fakeWamid();
    const events = extractEvents(
      textMessageNotification({
        phoneNumberId: PHONE_NUMBER_ID,
        displayPhoneNumber: DISPLAY_PHONE_NUMBER,
        from: USER,
        wamid,
        body: 'Does it come in another color?',
        timestamp: SENT_AT,
        profileName: 'Sheena Nelson',
      }),
    );

    expect(events).toEqual({
      messages: [
        {
          phoneNumberId: PHONE_NUMBER_ID,
          displayPhoneNumber: DISPLAY_PHONE_NUMBER,
          waId: USER,
          userId: fakeBsuid(USER),
          profileName: 'Sheena Nelson',
          wamid,
          type: 'text',
          timestamp: SENT_AT,
          text: 'Does it come in another color?',
          raw: expect.objectContaining({ id: wamid, from: USER, type: 'text' }),
        },
      ],
      statuses: [],
      skipped: [],
      unrecognized: [],
    });
  });

  it("converts Meta's unix-seconds string timestamp to a Date", () => {
    const message = { ...textMessage({ ...base, body: 'hi' }), timestamp: '1749416383' };
    expect(extractOne(message).timestamp).toEqual(new Date(1749416383 * 1000));
  });

  it('uses the caption of an image, or null without one', () => {
    expect(extractOne(imageMessage({ ...base, caption: 'This is a caption' }))).toMatchObject({
      type: 'image',
      text: 'This is a caption',
    });
    expect(extractOne(imageMessage(base)).text).toBeNull();
  });

  it('extracts a voice note with null text and keeps the voice flag in raw', () => {
    const extracted = extractOne(audioMessage({ ...base, voice: true }));
    expect(extracted).toMatchObject({ type: 'audio', text: null, waId: USER });
    expect(extracted.raw.audio).toMatchObject({ voice: true, mime_type: 'audio/ogg; codecs=opus' });
  });

  it('uses the caption of a video', () => {
    expect(extractOne(videoMessage({ ...base, caption: 'Unboxing' }))).toMatchObject({
      type: 'video',
      text: 'Unboxing',
    });
  });

  it('uses the caption of a document, or null without one', () => {
    expect(extractOne(documentMessage({ ...base, caption: 'My invoice' }))).toMatchObject({
      type: 'document',
      text: 'My invoice',
    });
    expect(extractOne(documentMessage({ ...base, filename: 'scan.pdf' })).text).toBeNull();
  });

  it('extracts a sticker with null text', () => {
    expect(extractOne(stickerMessage({ ...base, animated: true }))).toMatchObject({ type: 'sticker', text: null });
  });

  it('summarises a location as "name, address (lat,lng)"', () => {
    const message = locationMessage({
      ...base,
      latitude: 37.4847483695,
      longitude: -122.1473363,
      name: 'Philz Coffee',
      address: '101 Forest Ave, Palo Alto, CA 94301',
    });
    expect(extractOne(message)).toMatchObject({
      type: 'location',
      text: 'Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301 (37.4847483695,-122.1473363)',
    });
  });

  it('summarises a dropped pin by its coordinates only', () => {
    expect(extractOne(locationMessage({ ...base, latitude: 48.8584, longitude: 2.2945 })).text).toBe(
      '(48.8584,2.2945)',
    );
  });

  it("summarises shared contact cards by the contacts' names", () => {
    const message = contactsMessage({
      ...base,
      contacts: [{ name: 'Barbara Johnson', phone: '16505559999' }, { name: 'Kim' }],
    });
    expect(extractOne(message)).toMatchObject({ type: 'contacts', text: 'Barbara Johnson, Kim' });
  });

  it('uses the title of an interactive button reply', () => {
    expect(extractOne(buttonReplyMessage({ ...base, id: 'yes', title: 'Yes, please' }))).toMatchObject({
      type: 'interactive',
      text: 'Yes, please',
    });
  });

  it('uses the title of an interactive list reply', () => {
    const message = listReplyMessage({ ...base, id: 'row-2', title: 'Express delivery', description: 'Next day' });
    expect(extractOne(message)).toMatchObject({ type: 'interactive', text: 'Express delivery' });
  });

  it("summarises a flow response (nfm_reply) by the fields filled in, without the business's flow_token", () => {
    const response = { flow_token: 'abc', size: 'M', extras: ['gift wrap', 'card'], notes: '', date: null };
    const extracted = extractOne(flowReplyMessage({ ...base, response }));
    expect(extracted).toMatchObject({ type: 'interactive', text: 'Form reply: size: M; extras: gift wrap, card' });
    expect(extracted.raw.interactive).toMatchObject({
      type: 'nfm_reply',
      nfm_reply: { response_json: JSON.stringify(response) },
    });
  });

  it("leaves out a flow response's files and nested objects, and what text cannot hold", () => {
    const photo = {
      file_name: 'IMG_5237.jpg',
      media_id: '790aba14-5f4e-4e1c-9c4a-e7ef2cf9a1b6',
      cdn_url: 'https://mmg.whatsapp.net/v/t62.7118-24/x',
      encryption_metadata: { encryption_key: 'key', hmac_key: 'hmac', iv: 'iv', plaintext_hash: 'h' },
    };
    const response = { flow_token: 'abc', photos: [photo], address: { street: 'Rua A' }, note: 'a\u0000b\ud800' };
    const { text } = extractOne(flowReplyMessage({ ...base, response }));
    expect(text).toBe('Form reply: photos: 1 item(s); note: ab\uFFFD');
    const long = extractOne(flowReplyMessage({ ...base, response: { notes: 'x'.repeat(5000) } })).text;
    expect(long).toHaveLength('Form reply: '.length + 2000);
    // An emoji across the cut is left out whole, not halved.
    const emoji = extractOne(flowReplyMessage({ ...base, response: { notes: `${'x'.repeat(1992)}😀😀` } })).text;
    expect(emoji).toBe(`Form reply: notes: ${'x'.repeat(1992)}`);
  });

  it("falls back to a flow response's body when its response_json has nothing to read", () => {
    const onlyToken = flowReplyMessage({ ...base, response: { flow_token: 'abc' }, body: 'Sent' });
    expect(extractOne(onlyToken).text).toBe('Sent');
    const unparsable = {
      ...flowReplyMessage({ ...base, response: {} }),
      interactive: { type: 'nfm_reply', nfm_reply: { body: 'Sent', response_json: '{not json' } },
    };
    expect(extractOne(unparsable).text).toBe('Sent');
  });

  it('uses the text of a template quick-reply button', () => {
    expect(extractOne(templateButtonMessage({ ...base, text: 'Stop promotions' }))).toMatchObject({
      type: 'button',
      text: 'Stop promotions',
    });
  });

  it('uses the emoji of a reaction, or null when the reaction is removed', () => {
    const reacted = fakeWamid();
    expect(extractOne(reactionMessage({ ...base, messageId: reacted, emoji: '👍' }))).toMatchObject({
      type: 'reaction',
      text: '👍',
    });
    expect(extractOne(reactionMessage({ ...base, messageId: reacted })).text).toBeNull();
  });

  it('summarises an order with its items, total and note', () => {
    const message = orderMessage({
      ...base,
      text: 'Please gift wrap',
      items: [
        { productRetailerId: 'sku-1', quantity: 2, itemPrice: 10.5, currency: 'USD' },
        { productRetailerId: 'sku-2', quantity: 1, itemPrice: 3, currency: 'USD' },
      ],
    });
    expect(extractOne(message)).toMatchObject({
      type: 'order',
      text: 'Order: 2 × sku-1, 1 × sku-2 (total 24 USD) — Please gift wrap',
    });
  });

  it('leaves out the order total when items are in different currencies', () => {
    const message = orderMessage({
      ...base,
      items: [
        { productRetailerId: 'a', quantity: 1, itemPrice: 1, currency: 'USD' },
        { productRetailerId: 'b', quantity: 1, itemPrice: 1, currency: 'EUR' },
      ],
    });
    expect(extractOne(message).text).toBe('Order: 1 × a, 1 × b');
  });

  it('extracts a system message (number change) with null text and no profile name', () => {
    // Meta sends system messages without a contacts array.
    const events = extractEvents(notification({ messages: [systemMessage({ ...base, newWaId: '16505550000' })] }));
    expect(events.unrecognized).toEqual([]);
    expect(events.messages).toHaveLength(1);
    expect(events.messages[0]).toMatchObject({ type: 'system', text: null, waId: USER });
    expect(events.messages[0]).not.toHaveProperty('profileName');
  });

  it("reads what a user now goes by from Meta's notices, and nothing from any other message", () => {
    const [changed] = extractEvents(
      notification({ messages: [systemMessage({ ...base, newWaId: '16505550000' })] }),
    ).messages;
    expect(idChangeOf(changed!)).toEqual({
      numberChanged: true,
      newWaId: '16505550000',
      newUserId: fakeBsuid('16505550000'),
      previousUserId: fakeBsuid(USER),
    });
    const notice = systemMessage({ ...base, newWaId: '16505550000' });
    const system = notice.system as Json;
    const userIdChanged = { ...notice, system: { ...system, type: 'user_changed_user_id', wa_id: undefined } };
    expect(idChangeOf({ type: 'system', raw: userIdChanged })).toEqual({
      numberChanged: false,
      newUserId: fakeBsuid('16505550000'),
      previousUserId: fakeBsuid(USER),
    });
    // A user_changed_user_id names no number; one that does is not read as a number change.
    const withNumber = { ...notice, system: { ...system, type: 'user_changed_user_id' } };
    expect(idChangeOf({ type: 'system', raw: withNumber })).not.toHaveProperty('newWaId');
    const older = { system: { type: 'customer_changed_number', new_wa_id: 16505550001 } };
    expect(idChangeOf({ type: 'system', raw: older })).toEqual({ numberChanged: true, newWaId: '16505550001' });
    const hidden = { system: { type: 'user_changed_number', user_id: ' BR.123 ', wa_id: '  ' } };
    expect(idChangeOf({ type: 'system', raw: hidden })).toEqual({ numberChanged: true, newUserId: 'BR.123' });
    expect(idChangeOf({ type: 'system', raw: { system: { type: 'user_changed_user_id' } } })).toBeUndefined();
    expect(idChangeOf({ type: 'text', raw: textMessage({ ...base, body: 'x' }) })).toBeUndefined();
    expect(idChangeOf({ type: 'system', raw: { system: 'not an object' } })).toBeUndefined();
  });

  it('extracts a request_welcome message with null text', () => {
    expect(extractOne(requestWelcomeMessage(base))).toMatchObject({ type: 'request_welcome', text: null });
  });

  it('extracts an unsupported message with null text and keeps its errors in raw', () => {
    const extracted = extractOne(unsupportedMessage(base));
    expect(extracted).toMatchObject({ type: 'unsupported', text: null });
    expect(extracted.raw.errors).toEqual([expect.objectContaining({ code: 131051 })]);
  });

  it("extracts Meta's older 'unknown' type with its errors", () => {
    const message = {
      ...textMessage({ ...base, body: 'x' }),
      type: 'unknown',
      text: undefined,
      errors: [{ code: 131051, details: 'Message type is not currently supported', title: 'Unsupported message type' }],
    };
    expect(extractOne(message)).toMatchObject({ type: 'unknown', text: null });
  });

  it('still extracts a message of a future, undocumented type, with null text', () => {
    const message = {
      ...textMessage({ ...base, body: 'x' }),
      type: 'poll_vote',
      text: undefined,
      poll_vote: { option: 2 },
    };
    const extracted = extractOne(message);
    expect(extracted).toMatchObject({ type: 'poll_vote', text: null, waId: USER });
    expect(extracted.raw.poll_vote).toEqual({ option: 2 });
  });

  it('extracts an interactive reply of an undocumented sub-type with null text', () => {
    const message = {
      ...buttonReplyMessage({ ...base, id: 'a', title: 'b' }),
      interactive: { type: 'call_permission_reply', call_permission_reply: { response: 'accept' } },
    };
    expect(extractOne(message)).toMatchObject({ type: 'interactive', text: null });
  });
});

describe('extractEvents: context, referral and extra fields', () => {
  it('keeps the reply context in raw', () => {
    const replied = fakeWamid();
    const extracted = extractOne(textMessage({ ...base, body: 'this one', context: replyContext(replied) }));
    expect(extracted.raw.context).toEqual({ from: DISPLAY_PHONE_NUMBER, id: replied });
  });

  it('accepts forwarded messages', () => {
    expect(extractOne(textMessage({ ...base, body: 'fwd', context: forwardedContext(true) })).text).toBe('fwd');
  });

  it('accepts a product enquiry (context.referred_product)', () => {
    const context = {
      from: DISPLAY_PHONE_NUMBER,
      id: fakeWamid(),
      referred_product: { catalog_id: '1', product_retailer_id: 'sku-1' },
    };
    expect(extractOne(textMessage({ ...base, body: 'In stock?', context })).text).toBe('In stock?');
  });

  it('accepts a click-to-WhatsApp ad referral and keeps it in raw', () => {
    const extracted = extractOne(textMessage({ ...base, body: 'I saw your ad', referral: adReferral() }));
    expect(extracted.raw.referral).toMatchObject({ source_type: 'ad', ctwa_clid: expect.any(String) });
  });

  it('tolerates unknown fields at every level and keeps them in raw', () => {
    const message = {
      ...textMessage({ ...base, body: 'hello' }),
      brand_new: { nested: [1, 2] },
      text: { body: 'hello', lang: 'en' },
    };
    const value = {
      ...changeValue({
        messages: [message],
        contacts: [{ ...contact({ waId: USER, profileName: 'Ana' }), country_code: 'US' }],
      }),
      metadata: { display_phone_number: DISPLAY_PHONE_NUMBER, phone_number_id: PHONE_NUMBER_ID, waba_tier: 'x' },
      something_new: true,
    };
    const body = {
      object: 'whatsapp_business_account',
      delivery_attempt: 1,
      entry: [{ id: '1', time: 1749416383, changes: [{ field: 'messages', value, extra: 'x' }] }],
    };

    const events = extractEvents(body);

    expect(events.unrecognized).toEqual([]);
    expect(events.messages).toEqual([
      expect.objectContaining({
        text: 'hello',
        profileName: 'Ana',
        raw: expect.objectContaining({ brand_new: { nested: [1, 2] } }),
      }),
    ]);
  });

  it('reads the profile name from the contacts entry whose wa_id matches the sender', () => {
    const value = changeValue({
      contacts: [
        contact({ waId: '441234567890', profileName: 'Other' }),
        contact({ waId: USER, profileName: 'Sender' }),
      ],
      messages: [textMessage({ ...base, body: 'hi' })],
    });
    expect(extractEvents(bodyWithValue(value)).messages[0]?.profileName).toBe('Sender');
  });

  it('falls back to the business-scoped user id when Meta withholds the phone number', () => {
    // Username users: no `from` and no `wa_id`, only BSUIDs.
    const bsuid = fakeBsuid(USER);
    const message = omit(textMessage({ ...base, body: 'hi', fromUserId: bsuid }), 'from');
    const value = changeValue({
      contacts: [{ profile: { name: 'Anon', username: '@anon' }, user_id: bsuid }],
      messages: [message],
    });

    const events = extractEvents(bodyWithValue(value));

    expect(events.unrecognized).toEqual([]);
    expect(events.messages[0]).toMatchObject({ waId: bsuid, userId: bsuid, profileName: 'Anon', text: 'hi' });
  });

  it('keeps the business-scoped user id sent beside the number, which finds the contact without it later', () => {
    const withBoth = extractEvents(notification({ messages: [textMessage({ ...base, body: 'hi' })] }));
    expect(withBoth.messages[0]).toMatchObject({ waId: USER, userId: fakeBsuid(USER) });
    const numberOnly = extractEvents(
      notification({ messages: [textMessage({ ...base, body: 'hi', fromUserId: null })] }),
    );
    expect(numberOnly.messages[0]).not.toHaveProperty('userId');
  });

  it('omits the profile name when no contacts entry matches', () => {
    const events = extractEvents(notification({ messages: [textMessage({ ...base, body: 'hi' })] }));
    expect(events.messages[0]).not.toHaveProperty('profileName');
  });
});

describe('extractEvents: statuses', () => {
  it('extracts a delivered status', () => {
    const wamid = fakeWamid();
    const events = extractEvents(
      statusNotification({
        phoneNumberId: PHONE_NUMBER_ID,
        wamid,
        status: 'delivered',
        recipientId: USER,
        timestamp: SENT_AT,
      }),
    );

    expect(events).toEqual({
      messages: [],
      statuses: [
        {
          phoneNumberId: PHONE_NUMBER_ID,
          wamid,
          status: 'delivered',
          timestamp: SENT_AT,
          recipientId: USER,
          errors: [],
          raw: expect.objectContaining({ id: wamid, pricing: expect.any(Object) }),
        },
      ],
      skipped: [],
      unrecognized: [],
    });
  });

  it('extracts a failed status with its errors (code, title, message, details)', () => {
    const events = extractEvents(
      statusNotification({
        wamid: fakeWamid(),
        status: 'failed',
        recipientId: USER,
        errors: [
          {
            code: 131047,
            title: 'Re-engagement message',
            message: 'Re-engagement message',
            details: 'More than 24 hours',
          },
        ],
      }),
    );

    expect(events.unrecognized).toEqual([]);
    expect(events.statuses[0]).toMatchObject({
      status: 'failed',
      errors: [
        {
          code: 131047,
          title: 'Re-engagement message',
          message: 'Re-engagement message',
          details: 'More than 24 hours',
        },
      ],
    });
  });

  it('keeps an error with only a code', () => {
    const status = {
      ...statusUpdate({ wamid: fakeWamid(), status: 'failed', recipientId: USER }),
      errors: [{ code: 131000 }],
    };
    expect(extractEvents(notification({ statuses: [status] })).statuses[0]?.errors).toEqual([{ code: 131000 }]);
  });

  it('passes through statuses Meta adds later (played, ...)', () => {
    const events = extractEvents(statusNotification({ wamid: fakeWamid(), status: 'played', recipientId: USER }));
    expect(events.statuses[0]?.status).toBe('played');
  });

  it('uses recipient_user_id when recipient_id is absent (message sent to a BSUID)', () => {
    const status = omit(statusUpdate({ wamid: fakeWamid(), status: 'read', recipientId: USER }), 'recipient_id');
    expect(extractEvents(notification({ statuses: [status] })).statuses[0]?.recipientId).toBe(fakeBsuid(USER));
  });

  it('reports system-level value.errors as account errors with their code, not as unrecognized', () => {
    const errors = [metaError({ code: 131000, title: 'Something went wrong', details: 'Unknown error' })];
    const events = extractEvents(notification({ errors }));
    expect(events).toMatchObject({ messages: [], statuses: [], unrecognized: [] });
    expect(events.skipped).toEqual([
      {
        what: 'account_error',
        detail: expect.stringMatching(/error 131000 \(Something went wrong \/ Unknown error\)/),
        level: 'error',
        phoneNumberId: PHONE_NUMBER_ID,
      },
    ]);
  });
});

describe('extractEvents: deliveries with several items', () => {
  it('extracts two messages of one delivery, in order', () => {
    const first = textMessage({ ...base, body: 'first' });
    const second = imageMessage({ ...base, caption: 'second' });
    const events = extractEvents(messagesNotification({ messages: [first, second] }));

    expect(events.unrecognized).toEqual([]);
    expect(events.messages.map((message) => [message.wamid, message.text])).toEqual([
      [first.id, 'first'],
      [second.id, 'second'],
    ]);
  });

  it('extracts messages and statuses across several entries and changes', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'waba-1',
          changes: [
            {
              field: 'messages',
              value: changeValue({ phoneNumberId: 'pn-1', messages: [textMessage({ ...base, body: 'a' })] }),
            },
            {
              field: 'messages',
              value: changeValue({
                phoneNumberId: 'pn-1',
                statuses: [statusUpdate({ wamid: 'w1', status: 'sent', recipientId: USER })],
              }),
            },
          ],
        },
        {
          id: 'waba-2',
          changes: [
            {
              field: 'messages',
              value: changeValue({ phoneNumberId: 'pn-2', messages: [textMessage({ ...base, body: 'b' })] }),
            },
          ],
        },
      ],
    };

    const events = extractEvents(body);

    expect(events.unrecognized).toEqual([]);
    expect(events.messages.map((message) => [message.phoneNumberId, message.text])).toEqual([
      ['pn-1', 'a'],
      ['pn-2', 'b'],
    ]);
    expect(events.statuses.map((status) => [status.phoneNumberId, status.wamid])).toEqual([['pn-1', 'w1']]);
  });

  it('skips a change of another documented field, naming it, and still extracts the other changes', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } },
            { field: 'messages', value: changeValue({ messages: [textMessage({ ...base, body: 'kept' })] }) },
            { field: 'not_a_meta_field', value: {} },
          ],
        },
      ],
    };

    const events = extractEvents(body);

    expect(events.messages.map((message) => message.text)).toEqual(['kept']);
    expect(events.skipped).toEqual([
      { what: 'account_update', detail: 'entry[0].changes[0]: account_update event=VERIFIED_ACCOUNT', level: 'warn' },
    ]);
    expect(events.unrecognized).toEqual([
      { reason: expect.stringMatching(/entry\[0\]\.changes\[2\]: field "not_a_meta_field" is not handled/) },
    ]);
  });

  it.each([
    [
      'message_template_status_update',
      {
        event: 'REJECTED',
        message_template_id: 1689556908129832,
        message_template_name: 'order_confirmation',
        message_template_language: 'en-US',
        reason: 'INVALID_FORMAT',
        rejection_info: { reason: 'x', recommendation: 'y' },
      },
      'event=REJECTED message_template_id=1689556908129832 message_template_name=order_confirmation ' +
        'message_template_language=en-US reason=INVALID_FORMAT',
      { level: 'info' },
    ],
    [
      'phone_number_quality_update',
      { display_phone_number: '15550783881', event: 'THROUGHPUT_UPGRADE', current_limit: 'TIER_UNLIMITED' },
      'display_phone_number=15550783881 event=THROUGHPUT_UPGRADE current_limit=TIER_UNLIMITED',
      { level: 'warn' },
    ],
    [
      'user_preferences',
      {
        messaging_product: 'whatsapp',
        metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
        user_preferences: [{ wa_id: USER, category: 'marketing_messages', value: 'stop', timestamp: 1731705721 }],
      },
      'messaging_product=whatsapp user_preferences=[1]',
      { level: 'info', phoneNumberId: '106540352242922' },
    ],
    ['group_lifecycle_update', { groups: [] }, 'groups=[0]', { level: 'info' }],
    ['security', { nested: { event: 'x' } }, 'with no plain fields', { level: 'warn' }],
  ])('skips a %s notice with its plain fields for the log', (field, value, summary, how) => {
    const events = extractEvents(otherFieldNotification(field, value));
    expect(events).toMatchObject({ messages: [], statuses: [], unrecognized: [] });
    expect(events.skipped).toEqual([{ what: field, detail: `entry[0].changes[0]: ${field} ${summary}`, ...how }]);
  });

  it('reads what the business sent from the WhatsApp Business app as its own message to that user', () => {
    const wamid = fakeWamid();
    const text = textMessage({ ...base, wamid, body: 'Oi! Já separei o seu pedido.' });
    const image = imageMessage({ ...base, caption: 'a foto', fromUserId: null });
    const events = extractEvents(messageEchoesNotification({ messages: [text, image, { from: USER }] }));

    expect(events.messages).toEqual([
      {
        phoneNumberId: PHONE_NUMBER_ID,
        displayPhoneNumber: DISPLAY_PHONE_NUMBER,
        waId: USER,
        userId: fakeBsuid(USER),
        wamid,
        type: 'text',
        timestamp: SENT_AT,
        text: 'Oi! Já separei o seu pedido.',
        raw: expect.objectContaining({ from: DISPLAY_PHONE_NUMBER, to: USER, to_user_id: fakeBsuid(USER) }),
        fromMe: true,
      },
      expect.objectContaining({ type: 'image', text: 'a foto', waId: USER, fromMe: true }),
    ]);
    // The third echo has no id, type or timestamp: reported, the others kept.
    expect(events.unrecognized).toEqual([{ reason: expect.stringMatching(/message_echoes\[2\]/) }]);
    const toNobody = messageEchoesNotification({ messages: [textMessage({ ...base, body: 'x', fromUserId: null })] });
    const echo = (toNobody.entry[0]!.changes[0]!.value.message_echoes as Json[])[0]!;
    delete echo.to;
    expect(extractEvents(toNobody).unrecognized).toEqual([{ reason: expect.stringMatching(/names no recipient/) }]);
  });

  it('keeps what happens while Meta Business Agent handles a conversation, answering nothing (standby)', () => {
    const wamid = fakeWamid();
    const events = extractEvents(
      standbyNotification({
        contacts: [contact({ waId: USER, profileName: 'Sheena Nelson' })],
        messages: [textMessage({ ...base, wamid, body: 'Vocês abrem amanhã?' })],
        replies: [
          { to: `+${USER.slice(0, 2)} ${USER.slice(2)}`, body: 'Sim, das 9h às 18h.' },
          { to: '', recipient: fakeBsuid(USER), body: 'Posso ajudar em algo mais?' },
          { to: '120363025246125486@g.us', recipientType: 'group', body: 'Olá, grupo' },
          { recipient: 'not-a-bsuid', body: 'x' },
        ],
        statuses: [{ id: fakeWamid(), status: 'delivered', timestamp: '1750101000', recipient_id: USER }],
      }),
    );
    // The fourth reply names no one zapflow can tell: neither a number nor a BSUID.
    expect(events.unrecognized).toEqual([
      { reason: expect.stringMatching(/standby\.message_echoes\[3\]: echo names no recipient/) },
    ]);
    expect(events.messages).toEqual([
      expect.objectContaining({
        wamid,
        waId: USER,
        profileName: 'Sheena Nelson',
        text: 'Vocês abrem amanhã?',
        observed: true,
      }),
      expect.objectContaining({ waId: USER, type: 'text', text: 'Sim, das 9h às 18h.', fromMe: true }),
      expect.objectContaining({ waId: fakeBsuid(USER), userId: fakeBsuid(USER), fromMe: true }),
    ]);
    expect(events.messages[1]).not.toHaveProperty('observed');
    // Statuses of the agent's own messages: nothing zapflow sent.
    expect(events.statuses).toEqual([]);
    expect(events.skipped).toEqual([
      expect.objectContaining({ what: 'group_message', phoneNumberId: PHONE_NUMBER_ID }),
      expect.objectContaining({ what: 'standby_status', phoneNumberId: PHONE_NUMBER_ID }),
    ]);
    const empty = extractEvents(otherFieldNotification('standby', { metadata: { phone_number_id: '1' }, standby: {} }));
    expect(empty.unrecognized).toEqual([{ reason: expect.stringMatching(/standby has no messages/) }]);
    const broken = standbyNotification({ replies: [{ to: USER, body: 'x' }] });
    const echo = ((broken.entry[0]!.changes[0]!.value.standby as Json).message_echoes as Json[])[0]!;
    echo.message = 'not an object';
    expect(extractEvents(broken).unrecognized).toEqual([
      { reason: expect.stringMatching(/message_echoes\[0\]\.message/) },
    ]);
  });

  it("skips a group's messages, of any type, but not the sender's own chat next to them", () => {
    const groupId = 'HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA';
    const inGroup = textMessage({ ...base, groupId, body: 'What does everyone think about this?' });
    const unsupportedInGroup = unsupportedMessage({ ...base, groupId });
    const direct = textMessage({ ...base, body: 'just to you' });
    const events = extractEvents(messagesNotification({ messages: [inGroup, direct, unsupportedInGroup] }));

    expect(events.messages.map((message) => message.text)).toEqual(['just to you']);
    expect(events.unrecognized).toEqual([]);
    expect(events.skipped).toEqual([
      {
        what: 'group_message',
        detail: expect.stringContaining(`messages[0]: message ${String(inGroup.id)} in group ${groupId}`),
        level: 'info',
        phoneNumberId: PHONE_NUMBER_ID,
      },
      expect.objectContaining({ what: 'group_message', detail: expect.stringContaining('messages[2]') }),
    ]);
  });

  it('skips a malformed message but extracts the valid one next to it', () => {
    const bad = { ...textMessage({ ...base, body: 'x' }), text: { body: 42 } };
    const events = extractEvents(messagesNotification({ messages: [bad, textMessage({ ...base, body: 'good' })] }));

    expect(events.messages.map((message) => message.text)).toEqual(['good']);
    expect(events.unrecognized).toEqual([
      { reason: expect.stringMatching(/messages\[0\]: text message .*text\.body/) },
    ]);
  });
});

describe('extractEvents: malformed input', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an array', []],
    ['a string', 'whatsapp_business_account'],
    ['a number', 42],
    ['a boolean', true],
  ])('reports a body that is %s without throwing', (_label, body) => {
    expectOnlyUnrecognized(extractEvents(body), /^body is .*, expected an object$/);
  });

  it('reports a body of another object type (page, instagram, ...)', () => {
    expectOnlyUnrecognized(extractEvents({ object: 'page', entry: [] }), /object is "page"/);
  });

  it.each([
    ['missing', undefined],
    ['an object', { changes: [] }],
    ['a string', 'entry'],
    ['null', null],
  ])('reports an entry that is %s', (_label, entry) => {
    expectOnlyUnrecognized(
      extractEvents({ object: 'whatsapp_business_account', entry }),
      /^entry is .*, expected an array$/,
    );
  });

  it('reports entries and changes of the wrong type', () => {
    const events = extractEvents({
      object: 'whatsapp_business_account',
      entry: [null, 'x', { id: '1' }, { id: '2', changes: [null, [], 7, { field: 'messages' }] }],
    });

    expect(events.messages).toEqual([]);
    expect(events.unrecognized.map((item) => item.reason)).toEqual([
      'entry[0] is null, expected an object',
      'entry[1] is "x", expected an object',
      'entry[2].changes is missing, expected an array',
      'entry[3].changes[0] is null, expected an object',
      'entry[3].changes[1] is an array, expected an object',
      'entry[3].changes[2] is a number, expected an object',
      expect.stringMatching(/^entry\[3\]\.changes\[3\]\.value: /),
    ]);
  });

  it('reports a delivery with no entries or no changes', () => {
    expectOnlyUnrecognized(extractEvents({ object: 'whatsapp_business_account', entry: [] }), /^entry is empty$/);
    expectOnlyUnrecognized(
      extractEvents({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [] }] }),
      /^entry\[0\]\.changes is empty$/,
    );
  });

  it('reports a change value without metadata.phone_number_id', () => {
    const value = {
      ...changeValue({ messages: [textMessage({ ...base, body: 'x' })] }),
      metadata: { display_phone_number: '1' },
    };
    expectOnlyUnrecognized(extractEvents(bodyWithValue(value)), /value: metadata\.phone_number_id/);
  });

  it('reports a change value whose messages is not an array', () => {
    expectOnlyUnrecognized(extractEvents(bodyWithValue({ ...changeValue(), messages: { 0: 'x' } })), /value: messages/);
  });

  it('reports a change value carrying nothing', () => {
    expectOnlyUnrecognized(extractEvents(bodyWithValue(changeValue())), /has no messages, statuses or errors/);
  });

  it('reports a message missing its id', () => {
    const message = omit(textMessage({ ...base, body: 'x' }), 'id');
    expectOnlyUnrecognized(extractEvents(notification({ messages: [message] })), /messages\[0\]: id: /);
  });

  it('reports a message without any sender', () => {
    const message = omit(textMessage({ ...base, body: 'x' }), 'from', 'from_user_id');
    expectOnlyUnrecognized(extractEvents(notification({ messages: [message] })), /neither from nor from_user_id/);
  });

  it.each([
    ['a non-numeric timestamp', { timestamp: 'yesterday' }],
    ['an out-of-range timestamp', { timestamp: '99999999999999999999' }],
    ['a numeric id', { id: 12345 }],
    ['a numeric type', { type: 3 }],
    ['text without body', { text: {} }],
    ['text as a string', { text: 'hello' }],
    ['interactive without its reply object', { type: 'interactive', interactive: { type: 'button_reply' } }],
    ['location without coordinates', { type: 'location', location: { name: 'x' } }],
  ])('reports a message with %s', (_label, override) => {
    const message = { ...textMessage({ ...base, body: 'x' }), ...override };
    const events = extractEvents(notification({ messages: [message] }));
    expect(events.messages).toEqual([]);
    expect(events.unrecognized).toHaveLength(1);
    expect(events.unrecognized[0]?.reason).toMatch(/^entry\[0\]\.changes\[0\]\.value\.messages\[0\]/);
  });

  it('reports messages and statuses that are not objects', () => {
    const events = extractEvents(
      notification({ messages: [null, 'x', []] as unknown as Json[], statuses: [7] as unknown as Json[] }),
    );
    expect(events.messages).toEqual([]);
    expect(events.statuses).toEqual([]);
    expect(events.unrecognized).toHaveLength(4);
  });

  it('reports a status missing its id or recipient', () => {
    const status = statusUpdate({ wamid: 'w', status: 'sent', recipientId: USER });
    const noId = omit(status, 'id');
    const noRecipient = omit(status, 'recipient_id', 'recipient_user_id');
    const events = extractEvents(notification({ statuses: [noId, noRecipient] }));

    expect(events.statuses).toEqual([]);
    expect(events.unrecognized.map((item) => item.reason)).toEqual([
      expect.stringMatching(/statuses\[0\]: id: /),
      expect.stringMatching(/statuses\[1\]: .*neither recipient_id nor recipient_user_id/),
    ]);
  });

  it('reports a malformed contacts entry but still extracts the message', () => {
    const value = changeValue({ contacts: [{ wa_id: 5 }], messages: [textMessage({ ...base, body: 'still here' })] });
    const events = extractEvents(bodyWithValue(value));

    expect(events.messages.map((message) => message.text)).toEqual(['still here']);
    expect(events.unrecognized).toEqual([{ reason: expect.stringMatching(/contacts\[0\]: wa_id: /) }]);
  });

  it('does not throw on deeply nested input', () => {
    let deep: unknown = 'bottom';
    for (let depth = 0; depth < 100_000; depth++) deep = { deep };
    const message = { ...textMessage({ ...base, body: 'deep' }), extra: deep };

    expect(() => extractEvents(notification({ messages: [message] }))).not.toThrow();
    expect(extractEvents(deep).unrecognized).toHaveLength(1);
    expect(extractEvents({ object: 'whatsapp_business_account', entry: deep }).unrecognized).toHaveLength(1);
  });

  it('does not throw when reading the input throws', () => {
    const hostile = { object: 'whatsapp_business_account' } as Record<string, unknown>;
    Object.defineProperty(hostile, 'entry', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    const change = { field: 'messages' } as Record<string, unknown>;
    Object.defineProperty(change, 'value', {
      enumerable: true,
      get: () => {
        throw new Error('bang');
      },
    });
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1',
          changes: [
            change,
            { field: 'messages', value: changeValue({ messages: [textMessage({ ...base, body: 'ok' })] }) },
          ],
        },
      ],
    };

    expectOnlyUnrecognized(extractEvents(hostile), /unexpected error while reading \(boom\)/);
    const events = extractEvents(body);
    expect(events.messages.map((message) => message.text)).toEqual(['ok']);
    expect(events.unrecognized).toEqual([
      { reason: expect.stringMatching(/changes\[0\]: unexpected error while reading \(bang\)/) },
    ]);
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
    const random = seededRandom(42);
    for (let round = 0; round < 500; round++) {
      const body = mixedFixture();
      replaceRandomNode(body, oddValues[Math.floor(random() * oddValues.length)], random);
      const events = extractEvents(body);
      const total = events.messages.length + events.statuses.length + events.unrecognized.length;
      expect(total).toBeGreaterThan(0);
    }
  });
});

describe('fixtures', () => {
  it('build payloads that pass the full notification schema', () => {
    const messages = [
      textMessage({ ...base, body: 'hi', context: replyContext(), referral: adReferral() }),
      imageMessage({ ...base, caption: 'c' }),
      audioMessage(base),
      videoMessage(base),
      documentMessage(base),
      stickerMessage(base),
      locationMessage({ ...base, latitude: 1, longitude: 2, name: 'n', address: 'a' }),
      contactsMessage({ ...base, contacts: [{ name: 'A B', phone: '1' }] }),
      buttonReplyMessage({ ...base, id: 'i', title: 't' }),
      listReplyMessage({ ...base, id: 'i', title: 't', description: 'd' }),
      flowReplyMessage({ ...base, response: { a: 1 } }),
      templateButtonMessage({ ...base, text: 'Yes' }),
      reactionMessage({ ...base, messageId: fakeWamid(), emoji: '❤️' }),
      orderMessage({ ...base, items: [{ productRetailerId: 'p', quantity: 1 }] }),
      systemMessage({ ...base, newWaId: '2' }),
      requestWelcomeMessage(base),
      unsupportedMessage(base),
    ];
    const payloads = [
      messagesNotification({ messages }),
      textMessageNotification({ phoneNumberId: PHONE_NUMBER_ID, from: USER, wamid: fakeWamid(), body: 'x' }),
      statusNotification({ wamid: fakeWamid(), status: 'read', recipientId: USER }),
      statusNotification({ wamid: fakeWamid(), status: 'failed', recipientId: USER }),
      notification({ errors: [metaError({ code: 1 })] }),
    ];

    for (const payload of payloads) {
      const result = WebhookNotification.safeParse(payload);
      expect(result.error?.issues).toBeUndefined();
    }
    expect(extractEvents(payloads[0]).messages).toHaveLength(messages.length);
  });

  it('include the extra fields Meta sends (user_id, identity_key_hash, display number)', () => {
    const value = firstChangeValue(textMessageNotification({ from: USER, wamid: fakeWamid(), body: 'x' }));
    expect(value).toMatchObject({
      metadata: { display_phone_number: expect.any(String), phone_number_id: expect.any(String) },
      contacts: [
        {
          wa_id: USER,
          user_id: fakeBsuid(USER),
          identity_key_hash: expect.any(String),
          profile: { name: expect.any(String) },
        },
      ],
      messages: [{ from: USER, from_user_id: fakeBsuid(USER) }],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers for the mutation test
// ---------------------------------------------------------------------------------------------

function mixedFixture(): Json {
  const body = messagesNotification({
    messages: [
      textMessage({ ...base, body: 'a' }),
      locationMessage({ ...base, latitude: 1, longitude: 2 }),
      orderMessage({ ...base, items: [{ productRetailerId: 'p', quantity: 2 }] }),
    ],
  });
  const value = firstChangeValue(body);
  value.statuses = [statusUpdate({ wamid: 'w', status: 'failed', recipientId: USER })];
  return body as unknown as Json;
}
