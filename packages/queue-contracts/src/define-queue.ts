import { Queue, UnrecoverableError, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { z } from 'zod';

export interface QueueContract<S extends z.ZodType> {
  /** The queue's name. It is part of Redis keys in production: never rename without a migration. */
  name: string;
  schema: S;
  /** The job name within the queue, for Bull Board and logs. */
  jobName: string;
  /**
   * A deterministic job id from the payload, so adding the same work twice is a no-op. Queues
   * that deduplicate by other means (BullMQ's deduplication option) leave it out.
   */
  jobId?: (data: z.infer<S>) => string;
  defaultJobOptions: JobsOptions;
}

export function defineQueue<S extends z.ZodType>(contract: QueueContract<S>): QueueContract<S> {
  return contract;
}

export function createQueue(
  contract: Pick<QueueContract<z.ZodType>, 'name' | 'defaultJobOptions'>,
  connection: ConnectionOptions,
  prefix: string,
): Queue {
  return new Queue(contract.name, { connection, prefix, defaultJobOptions: contract.defaultJobOptions });
}

/** A typed producer: the payload is parsed before it reaches Redis, so garbage never gets queued. */
export class Producer<S extends z.ZodType> {
  constructor(
    readonly contract: QueueContract<S>,
    readonly queue: Queue,
    /** Options this producer adds to every job (e.g. attempts that depend on configuration). */
    private readonly defaults: JobsOptions = {},
  ) {}

  async add(data: z.input<S>, options: JobsOptions = {}) {
    const parsed = this.contract.schema.parse(data) as z.infer<S>;
    return this.queue.add(this.contract.jobName, parsed, { ...this.idOf(parsed), ...this.defaults, ...options });
  }

  /**
   * Adds the work again even if a job with its id already finished (BullMQ keeps finished jobs
   * for a while, and adding an existing id is a no-op). A job still waiting or running is kept.
   */
  async addAgain(data: z.input<S>, options: JobsOptions = {}) {
    const parsed = this.contract.schema.parse(data) as z.infer<S>;
    const jobId = options.jobId ?? this.idOf(parsed).jobId;
    const old = jobId ? await this.queue.getJob(jobId) : undefined;
    if (old && ((await old.isFailed()) || (await old.isCompleted()))) await old.remove();
    return this.add(data, options);
  }

  private idOf(data: z.infer<S>): { jobId?: string } {
    return this.contract.jobId ? { jobId: this.contract.jobId(data) } : {};
  }

  /** One round trip for many jobs. */
  async addBulk(items: z.input<S>[], options: JobsOptions = {}) {
    return this.addEach(items.map((data) => ({ data, options })));
  }

  /** One round trip for many jobs, each with options of its own. */
  async addEach(items: { data: z.input<S>; options?: JobsOptions }[]) {
    if (items.length === 0) return [];
    // BullMQ adds a bulk inside a MULTI, and ioredis builds each pipeline by copying every script
    // BullMQ defines onto it: for a single job that costs more than the add itself.
    if (items.length === 1) return [await this.add(items[0]!.data, items[0]!.options)];
    return this.queue.addBulk(
      items.map(({ data, options = {} }) => {
        const parsed = this.contract.schema.parse(data) as z.infer<S>;
        return {
          name: this.contract.jobName,
          data: parsed,
          opts: { ...this.idOf(parsed), ...this.defaults, ...options },
        };
      }),
    );
  }
}

/**
 * The consumer's side: parse again. A payload that does not fit the schema is not retried
 * (retrying garbage never helps); the job fails with the reason.
 */
export function parseJobData<S extends z.ZodType>(contract: QueueContract<S>, data: unknown): z.infer<S> {
  const result = contract.schema.safeParse(data);
  if (!result.success) {
    throw new UnrecoverableError(`job data does not fit the ${contract.name} contract: ${result.error.message}`);
  }
  return result.data as z.infer<S>;
}
