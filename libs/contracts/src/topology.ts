/**
 * Every exchange and queue name psc uses, in one place. Services never spell a name themselves.
 * `docs/ARCHITECTURE.md` draws the same picture.
 */
export const EXCHANGES = {
  /** topic: domain events, routing key = event type (`platform.registered`, `job.succeeded`). */
  events: 'psc.events',
  /**
   * topic: job messages, routing key = task type (`sync`, `validate`, `collect`) or
   * `collect.child`, so each producer's login may send only its own kinds (the collector cannot
   * put a `job.run` in the sync-worker's queue).
   */
  jobs: 'psc.work',
  /**
   * topic: request/reply commands and queries, routing key `<owning service>.<operation>`
   * (`scheduler.job.get`), so each service's login may send only the operations it calls.
   */
  calls: 'psc.calls',
  /** direct: RPC replies, routing key = the caller's reply queue (`<service>.replies.<id>`). */
  replies: 'psc.replies',
  /**
   * topic: back into a queue, routing key = queue name: a failed message into its delay queue
   * and out of it, a delivery put back at the tail. Not the default exchange, which reaches
   * every queue by name: a service's login may route here only to its own queues.
   */
  retry: 'psc.retry',
  /** direct: messages that cannot be processed, routing key = source queue name. */
  deadLetter: 'psc.dead-letter',
  /** fanout: alternate exchange of `events`, for events no service subscribes to. */
  unrouted: 'psc.unrouted',
} as const;

/**
 * Exchanges of earlier versions that nothing publishes to any more: the queues they fed unbind
 * from them when declared (`retiredBindings`), and no login may write to them.
 */
export const RETIRED_EXCHANGES = {
  /** direct, before `psc.work`: any login that could publish a job could publish any job. */
  jobs: 'psc.jobs',
} as const;

export const SERVICES = [
  'gateway',
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * The PostgreSQL schema each service owns (its migrations create it and every table in it); no
 * service reads another's. `npm run db-roles` gives each service a login owning only its own.
 */
export const SERVICE_SCHEMAS = {
  gateway: 'gateway',
  'platform-registry': 'registry',
  scheduler: 'scheduler',
  'sync-worker': 'sync',
  collector: 'collector',
} as const satisfies Record<ServiceName, string>;

export const TASK_TYPES = ['sync', 'validate', 'collect'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Priority range on job queues: messages carry 1 (lowest) … 9 (highest). */
export const MAX_PRIORITY = 9;

/**
 * Queue names. What each queue is bound to, who consumes it and what it accepts is in the
 * topology table (`topology-table.ts`); this file only spells the names.
 */
export const QUEUES = {
  syncJobs: 'sync-worker.jobs',
  /** Stage 1 of a collection: `job.run` of task type `collect`. */
  collectorJobs: 'collector.jobs',
  /** Stage 2 of a fan-out collection: one `collect.child` per index entry. */
  collectorChildren: 'collector.children',
  schedulerJobEvents: 'scheduler.job-events',
  schedulerPlatformEvents: 'scheduler.platform-events',
  /** Prefix: every sync-worker replica has its own, `<prefix>.<workerId>`. */
  syncWorkerPlatformEvents: 'sync-worker.platform-events',
  collectorPlatformEvents: 'collector.platform-events',
  /** Prefix: every gateway replica has its own, `<prefix>.<replicaId>`. */
  gatewayKeyEvents: 'gateway.api-key-events',
  /** `job.cancel-requested`: one replica of each worker service stores each for all. */
  syncWorkerCancellations: 'sync-worker.job-cancellations',
  collectorCancellations: 'collector.job-cancellations',
  collectorOpsEvents: 'collector.ops-events',
  registryWebhookEvents: 'platform-registry.webhook-events',
  unroutedEvents: 'psc.unrouted-events',
  rpc: (service: ServiceName): string => `${service}.rpc`,
  /** Prefix: each RPC client has its own reply queue, `<prefix>.<random id>`. */
  replies: (caller: string): string => `${caller}.replies`,
  deadLetter: (queue: string): string => `${queue}.dead-letter`,
  /**
   * A delay queue is named by its delay, so a deployment that changes its delays declares new
   * queues instead of re-declaring old ones with another TTL (which RabbitMQ refuses). (Before
   * `psc.retry`, delay queues were `<queue>.retry.<ms>ms` and expired through the default
   * exchange; those left on an upgraded broker still empty themselves into their queue.)
   */
  retry: (queue: string, delayMs: number): string => `${queue}.delay.${delayMs}ms`,
} as const;

/** Which job queue takes which task type. */
export const JOB_QUEUE_FOR_TASK: Record<TaskType, string> = {
  sync: QUEUES.syncJobs,
  validate: QUEUES.syncJobs,
  collect: QUEUES.collectorJobs,
};

/** Default retry delay tiers (ms): attempt n waits tier n-1 (the last one repeats). */
export const RETRY_TIERS_MS = [1_000, 5_000, 30_000, 120_000] as const;

/** Custom headers; `x-death` is not trusted for attempt counting. */
export const HEADERS = {
  attempt: 'x-psc-attempt',
  /**
   * How many times in a row the delivery was deferred with backoff (a platform's request slots
   * all taken): each such deferral waits about twice as long as the one before.
   */
  deferrals: 'x-psc-deferrals',
  deadReason: 'x-psc-dead-reason',
  deadQueue: 'x-psc-dead-queue',
  deadAt: 'x-psc-dead-at',
  /**
   * On a bundle (see `BUNDLED_TYPES`): how many envelopes its body, a JSON array, holds. A
   * message without it holds one envelope.
   */
  bundle: 'x-psc-bundle',
  /**
   * On a bundle, when tracing is on: each envelope's trace context (a JSON object of W3C
   * `traceparent`/`tracestate`), in the order of the body's array. The message's own trace
   * headers are its first envelope's; the others' would otherwise be lost.
   */
  bundleTraces: 'x-psc-bundle-traces',
} as const;
