import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the webhook-api, on its own registry (served at /metrics). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zapflow_api_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'zapflow_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    webhookEvents: new Counter({
      name: 'zapflow_webhook_events_total',
      help: 'Messages and statuses received by webhook, new or duplicate',
      labelNames: ['provider', 'kind', 'outcome'] as const,
      registers: [registry],
    }),
    webhookRejected: new Counter({
      name: 'zapflow_webhook_rejected_total',
      help: 'Webhook deliveries refused (bad signature, not JSON, too large)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    webhookUnrecognized: new Counter({
      name: 'zapflow_webhook_unrecognized_total',
      help: 'Signed webhook content of a shape zapflow does not understand (answered 200, not retried)',
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
    webhookSkipped: new Counter({
      name: 'zapflow_webhook_skipped_total',
      help: 'Webhook content Meta documents that zapflow does not act on: other subscribed fields, group messages, account errors',
      labelNames: ['provider', 'what'] as const,
      registers: [registry],
    }),
    enqueueFailures: new Counter({
      name: 'zapflow_webhook_enqueue_failures_total',
      help: 'Inbox events stored but not queued (Redis unavailable); the sweeper queues them later',
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createMetrics>;
