import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';

/** `sha256=<hex>` of the raw body, as Meta sends it in `X-Hub-Signature-256`. */
export function signBody(rawBody: Buffer | string, appSecret: string): string {
  return PREFIX + createHmac('sha256', appSecret).update(rawBody).digest('hex');
}

/**
 * Checks `X-Hub-Signature-256` against the raw bytes of the body. The comparison is
 * timing-safe, and any malformed header (missing, wrong prefix, wrong length, not hex) is simply
 * "not valid", never an exception.
 */
export function isValidSignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header || !header.startsWith(PREFIX)) return false;
  const given = Buffer.from(header.slice(PREFIX.length), 'hex');
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  // Buffer.from(hex) stops at the first non-hex pair, so a bad header comes out short.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
