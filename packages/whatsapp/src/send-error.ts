/**
 * A failed send, classified for the retry policy: `retryable` errors (network, 5xx, 429,
 * throttling codes) are tried again with backoff; the rest fail at once with the reason stored.
 */
export class SendError extends Error {
  override name = 'SendError';
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

// Meta's error codes that mean "try again later" (Cloud API error codes reference).
const RETRYABLE_META_CODES = new Set([
  1, // API unknown
  2, // API service (temporary)
  4, // app-level rate limit
  80007, // WABA rate limit
  130429, // throughput limit of the business number
  131000, // something went wrong
  131016, // service unavailable
  131048, // spam rate limit
  131056, // pair rate limit: too many messages to the same user
  133004, // server temporarily unavailable
]);

/** Whether a Meta error code means "try again later" (also for `failed` delivery statuses). */
export function isRetryableMetaCode(code: number): boolean {
  return RETRYABLE_META_CODES.has(code);
}

/** Classifies a Graph API error response (or its absence) into a SendError. */
export function classifyGraphError(httpStatus: number | undefined, body: unknown, fallbackMessage: string): SendError {
  const error = (
    body as { error?: { code?: unknown; message?: unknown; error_data?: { details?: unknown } } } | undefined
  )?.error;
  const metaCode = typeof error?.code === 'number' ? error.code : undefined;
  const details = typeof error?.error_data?.details === 'string' ? `: ${error.error_data.details}` : '';
  const message = `${typeof error?.message === 'string' ? error.message : fallbackMessage}${details}`;
  if (metaCode !== undefined) {
    const retryable = RETRYABLE_META_CODES.has(metaCode) || (httpStatus !== undefined && httpStatus >= 500);
    return new SendError(message, String(metaCode), retryable, httpStatus);
  }
  if (httpStatus === undefined) return new SendError(message, 'network', true);
  const retryable = httpStatus === 429 || httpStatus === 408 || httpStatus >= 500;
  return new SendError(message, `http_${httpStatus}`, retryable, httpStatus);
}
