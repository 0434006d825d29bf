import type { Worker } from 'bullmq';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of a worker process: jobs by queue and outcome, and how long they took. */
export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zapflow_worker_' });
  const jobs = new Counter({
    name: 'zapflow_jobs_total',
    help: 'Jobs finished by this worker, by queue and outcome',
    labelNames: ['queue', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'zapflow_job_duration_seconds',
    help: 'Time from a job starting to finishing, by queue',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return {
    registry,
    observe(worker: Worker) {
      worker.on('completed', (job) => {
        jobs.inc({ queue: worker.name, outcome: 'completed' });
        if (job.processedOn && job.finishedOn)
          duration.observe({ queue: worker.name }, (job.finishedOn - job.processedOn) / 1000);
      });
      worker.on('failed', (job) => {
        const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || job.finishedOn !== undefined;
        jobs.inc({ queue: worker.name, outcome: final ? 'failed' : 'retrying' });
      });
      worker.on('stalled', () => jobs.inc({ queue: worker.name, outcome: 'stalled' }));
    },
  };
}
