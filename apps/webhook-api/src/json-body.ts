import { HttpError } from './http-error';
import type { ApiMetrics } from './metrics';

/** Parses a webhook's raw body as JSON, or answers 400 (and counts it). */
export function parseJsonBody(raw: Buffer, metrics: ApiMetrics): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    metrics.webhookRejected.inc({ reason: 'not_json' });
    throw new HttpError(400, 'invalid_json', 'the body is not JSON');
  }
}
