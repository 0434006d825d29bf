import { describe, expect, it } from '@jest/globals';
import { isValidSignature, signBody } from './signature';

const secret = 'app-secret';
const body = Buffer.from('{"object":"whatsapp_business_account","entry":[]}');

describe('webhook signature', () => {
  it('accepts the HMAC-SHA256 of the raw body under the app secret', () => {
    expect(isValidSignature(body, signBody(body, secret), secret)).toBe(true);
  });

  it('matches what Meta computes (a known vector)', () => {
    // echo -n 'hello' | openssl dgst -sha256 -hmac 'app-secret'
    const openssl = 'sha256=ad5c6aa52b4bf4d1955ccd07b1393163fa5aa461e01cedabf58a512035063c49';
    expect(signBody('hello', secret)).toBe(openssl);
    expect(isValidSignature(Buffer.from('hello'), signBody('hello', secret), secret)).toBe(true);
  });

  it('rejects a body changed by one byte', () => {
    const changed = Buffer.from(body);
    changed[5] = changed[5]! ^ 1;
    expect(isValidSignature(changed, signBody(body, secret), secret)).toBe(false);
  });

  it('rejects a signature made with another secret', () => {
    expect(isValidSignature(body, signBody(body, 'other'), secret)).toBe(false);
  });

  it('treats a re-serialised body as different (the raw bytes are what count)', () => {
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expect(isValidSignature(reformatted, signBody(body, secret), secret)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['without the sha256= prefix', signBody(body, secret).slice(7)],
    ['with sha1', 'sha1=' + signBody(body, secret).slice(7)],
    ['truncated', signBody(body, secret).slice(0, -2)],
    ['not hex', 'sha256=' + 'zz'.repeat(32)],
    ['too long', signBody(body, secret) + '00'],
  ])('rejects a header that is %s without throwing', (_label, header) => {
    expect(isValidSignature(body, header, secret)).toBe(false);
  });
});
