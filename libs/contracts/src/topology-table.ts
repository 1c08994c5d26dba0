import type { MessageDefinition } from './envelope.ts';
import {
  EXCHANGES,
  MAX_PRIORITY,
  QUEUES,
  RETIRED_EXCHANGES,
  TASK_TYPES,
  type ServiceName,
} from './topology.ts';
import {
  JOB_EVENTS,
  jobCancelRequested,
  jobFailed,
  jobRun,
  jobStarted,
  jobSucceeded,
  jobWaiting,
} from './job.messages.ts';
import { collectChild, collectionCompleted } from './collector.ts';
import { logRecorded } from './logs.ts';
import { workerHeartbeat } from './monitoring.ts';
import { platformDeleted, platformRegistered, platformUpdated } from './platform.events.ts';
import { recordsChanged } from './records.events.ts';
import { validationDriftDetected } from './validation.ts';
import { breakerStateChanged } from './breaker.ts';
import { apiKeyRevoked } from './api-keys.events.ts';
import { jobDeadLettered, scheduleAutoPaused } from './webhook.ts';

/**
 * psc's whole RabbitMQ topology as data: every exchange, queue, binding and queue argument, who
 * consumes each queue and which message types it accepts, and who publishes each message. The
 * messaging library declares queues from these entries and consumers take their accepted types
 * from them; docs/ARCHITECTURE.md's tables are generated from them (`npm run docs`).
 */

export interface ExchangeSpec {
  name: string;
  type: 'topic' | 'direct' | 'fanout';
  /** Where messages that no binding takes go instead (`mandatory` publishes then succeed). */
  alternateExchange?: string;
  routingKey: string;
  purpose: string;
}

export interface BindingSpec {
  exchange: string;
  routingKey: string;
}

export interface QueueSpec {
  /** For a per-replica queue, the prefix: the queue is `<name>.<replica id>`. */
  readonly name: string;
  readonly consumer: ServiceName | null;
  /** Services that declare it (its consumer, and publishers that must never find it missing). */
  readonly declaredBy: readonly ServiceName[];
  readonly purpose: string;
  readonly bindings: readonly BindingSpec[];
  /**
   * Bindings an earlier version declared and this one no longer wants: removed whenever the
   * queue is declared, so a broker carried over from that version stops routing them here.
   */
  readonly retiredBindings?: readonly BindingSpec[];
  /** Message types its consumer accepts; anything else is parked as poison with the reason. */
  readonly accepts: readonly MessageDefinition[];
  readonly durable: boolean;
  readonly autoDelete?: boolean;
  readonly perReplica?: boolean;
  readonly priority?: boolean;
  readonly maxLength?: number;
  /**
   * Shared by every service: made by the provisioning step with the exchanges (`npm run
   * broker-users`), and declared by a service only when it is missing, so no service's login
   * may configure (or delete) it. See libs/messaging topology.ts.
   */
  readonly shared?: boolean;
  /**
   * `retries`: a failed message waits in a delay queue (`<name>.delay.<ms>ms`, one per delay) and
   * comes back; poison and, where the consumer gives up, exhausted messages go to
   * `<name>.dead-letter`. `park`: no retries, poison to the dead-letter queue. `none`: neither.
   */
  readonly failures: 'retries' | 'park' | 'none';
  /** The consumer's default prefetch, and the variable that sets it when there is one. */
  readonly prefetch?: { default: number; env?: string };
  /**
   * Its consumer applies what it receives in batches (libs/messaging batch-consumer.ts) and
   * takes bundles: an event type every queue of which is batched is published several to a
   * message (`BUNDLED_TYPES`).
   */
  readonly batched?: boolean;
  /**
   * Deliveries its consumer handles at once, when fewer than it holds: the rest of the prefetch
   * wait in the process for a slot (libs/messaging consume-loop.ts). Absent: all of them.
   */
  readonly concurrency?: { default: number; env: string };
}

export interface MessageRoute {
  message: MessageDefinition;
  kind: 'command' | 'event';
  exchange: string;
  /** What the routing key is: the message type, unless said otherwise. */
  routingKey: string;
  /** The routing keys it is sent with, when not its type (topic permissions list them). */
  keys?: readonly string[];
  producers: readonly ServiceName[];
}

export const EXCHANGE_SPECS: readonly ExchangeSpec[] = [
  {
    name: EXCHANGES.events,
    type: 'topic',
    alternateExchange: EXCHANGES.unrouted,
    routingKey: 'event type (`job.succeeded`)',
    purpose: 'domain events',
  },
  {
    name: EXCHANGES.jobs,
    type: 'topic',
    routingKey: 'task type (`sync`, `validate`, `collect`), or `collect.child`',
    purpose: '`job.run` commands and fan-out children',
  },
  {
    name: EXCHANGES.calls,
    type: 'topic',
    routingKey: '`<owning service>.<operation>` (`scheduler.job.get`)',
    purpose:
      "request/reply commands and queries; a service's login may send only the operations naming it a caller",
  },
  {
    name: EXCHANGES.replies,
    type: 'direct',
    routingKey: "the caller's reply queue (`gateway.replies.<id>`)",
    purpose: 'RPC replies, one exclusive queue per caller process',
  },
  {
    name: EXCHANGES.retry,
    type: 'topic',
    routingKey: 'queue name',
    purpose:
      'back into a queue: into and out of its delay queues (`<queue>.delay.<ms>ms`), or put back at its tail; every consumed queue with a failure policy and its delay queues are bound by their names, and a login may route only to its own',
  },
  {
    name: EXCHANGES.deadLetter,
    type: 'direct',
    routingKey: 'source queue name',
    purpose: 'messages that cannot be processed (poison, or given up)',
  },
  {
    name: EXCHANGES.unrouted,
    type: 'fanout',
    routingKey: '—',
    purpose: 'alternate exchange of `psc.events`: events no queue is bound to',
  },
];

/**
 * Job events that become log lines. Not progress (noise), and not success: the worker's own
 * line of the attempt (`job succeeded`, shipped in batches) says it, so the most frequent event
 * is not delivered a second time only to be logged.
 */
const OPS_JOB_EVENTS = [jobStarted, jobWaiting, jobFailed] as const;

const onEvents = (...messages: MessageDefinition[]): BindingSpec[] =>
  messages.map((m) => ({ exchange: EXCHANGES.events, routingKey: m.type }));
const onJobs = (...keys: string[]): BindingSpec[] =>
  keys.map((routingKey) => ({ exchange: EXCHANGES.jobs, routingKey }));
/** The same keys from `psc.jobs`, the direct exchange `psc.work` replaced. */
const fromRetiredJobs = (...keys: string[]): BindingSpec[] =>
  keys.map((routingKey) => ({ exchange: RETIRED_EXCHANGES.jobs, routingKey }));
const rpcQueue = (service: ServiceName): QueueSpec => ({
  name: QUEUES.rpc(service),
  consumer: service,
  declaredBy: [service],
  purpose: `requests of ${service}'s operations; deleted with its last replica, so callers get 503 at once`,
  bindings: [{ exchange: EXCHANGES.calls, routingKey: `${service}.#` }],
  accepts: [],
  durable: false,
  autoDelete: true,
  failures: 'none',
  prefetch: { default: 20 },
});
/** A worker replica's own queue of platform changes, for its platform cache. */
const platformEventsQueue = <S extends ServiceName>(name: string, service: S) =>
  ({
    name,
    consumer: service,
    declaredBy: [service],
    purpose:
      "one per replica: drops the replica's cached platform when it changes; on a deletion, also the service's stored breaker states, limits and booked turns of it",
    bindings: onEvents(platformUpdated, platformDeleted),
    accepts: [platformUpdated, platformDeleted],
    durable: false,
    autoDelete: true,
    perReplica: true,
    failures: 'park',
    prefetch: { default: 20 },
  }) as const satisfies QueueSpec;

/** Every queue psc declares, by key. */
export const QUEUE_SPECS = {
  syncJobs: {
    name: QUEUES.syncJobs,
    consumer: 'sync-worker',
    // The scheduler declares it too: a job queued before any worker ever started waits in it.
    declaredBy: ['scheduler', 'sync-worker'],
    purpose: 'sync and validate jobs, by priority',
    bindings: onJobs('sync', 'validate'),
    retiredBindings: fromRetiredJobs('sync', 'validate'),
    accepts: [jobRun],
    durable: true,
    priority: true,
    failures: 'retries',
    concurrency: { default: 4, env: 'PSC_WORKER_CONCURRENCY' },
    prefetch: { default: 6, env: 'PSC_WORKER_PREFETCH' },
  },
  collectorJobs: {
    name: QUEUES.collectorJobs,
    consumer: 'collector',
    declaredBy: ['scheduler', 'collector'],
    purpose: 'collect jobs (stage 1: fetch, or fan out into children)',
    bindings: onJobs('collect'),
    retiredBindings: fromRetiredJobs('collect'),
    accepts: [jobRun],
    durable: true,
    priority: true,
    failures: 'retries',
    concurrency: { default: 4, env: 'PSC_COLLECTOR_CONCURRENCY' },
    prefetch: { default: 6, env: 'PSC_COLLECTOR_PREFETCH' },
  },
  collectorChildren: {
    name: QUEUES.collectorChildren,
    consumer: 'collector',
    declaredBy: ['collector'],
    purpose: 'fan-out children (stage 2), by the parent job priority',
    bindings: onJobs(collectChild.type),
    retiredBindings: fromRetiredJobs(collectChild.type),
    accepts: [collectChild],
    durable: true,
    priority: true,
    failures: 'retries',
    concurrency: { default: 4, env: 'PSC_COLLECTOR_CHILD_CONCURRENCY' },
    prefetch: { default: 6, env: 'PSC_COLLECTOR_CHILD_PREFETCH' },
  },
  schedulerJobEvents: {
    name: QUEUES.schedulerJobEvents,
    consumer: 'scheduler',
    declaredBy: ['scheduler'],
    purpose:
      'the job ledger: every worker event of every job, applied in batches; held, never dead-lettered, while the database is away',
    bindings: onEvents(...JOB_EVENTS),
    accepts: JOB_EVENTS,
    durable: true,
    failures: 'park',
    prefetch: { default: 200, env: 'PSC_LEDGER_BATCH' },
    batched: true,
  },
  schedulerPlatformEvents: {
    name: QUEUES.schedulerPlatformEvents,
    consumer: 'scheduler',
    declaredBy: ['scheduler'],
    purpose: "the scheduler's projection of platforms",
    bindings: onEvents(platformRegistered, platformUpdated, platformDeleted),
    accepts: [platformRegistered, platformUpdated, platformDeleted],
    durable: true,
    failures: 'retries',
    prefetch: { default: 20 },
  },
  syncWorkerPlatformEvents: platformEventsQueue(QUEUES.syncWorkerPlatformEvents, 'sync-worker'),
  collectorPlatformEvents: platformEventsQueue(QUEUES.collectorPlatformEvents, 'collector'),
  gatewayKeyEvents: {
    name: QUEUES.gatewayKeyEvents,
    consumer: 'gateway',
    declaredBy: ['gateway'],
    purpose:
      'one per replica: drops a revoked API key from the replica’s memory (bound and consumed before the keys are loaded)',
    bindings: onEvents(apiKeyRevoked),
    accepts: [apiKeyRevoked],
    durable: false,
    autoDelete: true,
    perReplica: true,
    failures: 'park',
    prefetch: { default: 50 },
  },
  syncWorkerCancellations: {
    name: QUEUES.syncWorkerCancellations,
    consumer: 'sync-worker',
    declaredBy: ['sync-worker'],
    purpose:
      'cancellations, stored once for every sync-worker replica; the turns the cancelled run booked at rate-limited platforms are freed',
    bindings: onEvents(jobCancelRequested),
    accepts: [jobCancelRequested],
    durable: true,
    failures: 'retries',
    prefetch: { default: 20 },
  },
  collectorCancellations: {
    name: QUEUES.collectorCancellations,
    consumer: 'collector',
    declaredBy: ['collector'],
    purpose:
      'cancellations, stored once for every collector replica; the turns the cancelled run and its children booked at rate-limited platforms are freed',
    bindings: onEvents(jobCancelRequested),
    accepts: [jobCancelRequested],
    durable: true,
    failures: 'retries',
    prefetch: { default: 20 },
  },
  collectorOpsEvents: {
    name: QUEUES.collectorOpsEvents,
    consumer: 'collector',
    declaredBy: ['collector'],
    purpose:
      'log entries of every service, job events but success (the worker logs it) as log entries, worker heartbeats',
    bindings: onEvents(logRecorded, workerHeartbeat, ...OPS_JOB_EVENTS),
    retiredBindings: onEvents(jobSucceeded),
    accepts: [logRecorded, workerHeartbeat, ...OPS_JOB_EVENTS],
    durable: true,
    failures: 'park',
    prefetch: { default: 200 },
    batched: true,
  },
  registryWebhookEvents: {
    name: QUEUES.registryWebhookEvents,
    consumer: 'platform-registry',
    declaredBy: ['platform-registry'],
    purpose: 'events webhooks notify of, turned into stored deliveries for each subscription',
    bindings: onEvents(
      jobDeadLettered,
      validationDriftDetected,
      breakerStateChanged,
      scheduleAutoPaused,
    ),
    accepts: [jobDeadLettered, validationDriftDetected, breakerStateChanged, scheduleAutoPaused],
    durable: true,
    failures: 'retries',
    prefetch: { default: 20 },
  },
  unroutedEvents: {
    name: QUEUES.unroutedEvents,
    consumer: null,
    declaredBy: ['gateway', 'platform-registry', 'scheduler', 'sync-worker', 'collector'],
    purpose: 'the latest 10,000 events nobody subscribes to, for inspection',
    bindings: [{ exchange: EXCHANGES.unrouted, routingKey: '' }],
    accepts: [],
    durable: true,
    maxLength: 10_000,
    failures: 'none',
    shared: true,
  },
  registryRpc: rpcQueue('platform-registry'),
  schedulerRpc: rpcQueue('scheduler'),
  syncWorkerRpc: rpcQueue('sync-worker'),
  collectorRpc: rpcQueue('collector'),
} as const satisfies Record<string, QueueSpec>;

export type QueueKey = keyof typeof QUEUE_SPECS;

/** The service that consumes every dead-letter queue into the dead-letter queue API. */
export const DEAD_LETTER_KEEPER: ServiceName = 'scheduler';

/** Queues whose dead letters the scheduler keeps in the dead-letter queue API. */
export const DEAD_LETTER_SOURCES: readonly QueueSpec[] = Object.values(
  QUEUE_SPECS as Record<string, QueueSpec>,
).filter((q) => q.failures !== 'none');

/** Who publishes what, where. Consumers follow from the queues that accept each type. */
export const MESSAGE_ROUTES: readonly MessageRoute[] = [
  {
    message: jobRun,
    kind: 'command',
    exchange: EXCHANGES.jobs,
    routingKey: 'task type',
    keys: TASK_TYPES,
    producers: ['scheduler'],
  },
  {
    message: collectChild,
    kind: 'command',
    exchange: EXCHANGES.jobs,
    routingKey: collectChild.type,
    producers: ['collector'],
  },
  ...JOB_EVENTS.map((message): MessageRoute => ({
    message,
    kind: 'event',
    exchange: EXCHANGES.events,
    routingKey: message.type,
    producers: ['sync-worker', 'collector'],
  })),
  ...[jobCancelRequested, jobDeadLettered, scheduleAutoPaused].map((message) =>
    event(message, ['scheduler']),
  ),
  ...[platformRegistered, platformUpdated, platformDeleted].map((m) =>
    event(m, ['platform-registry']),
  ),
  event(recordsChanged, ['sync-worker']),
  event(validationDriftDetected, ['sync-worker']),
  event(breakerStateChanged, ['sync-worker', 'collector']),
  event(collectionCompleted, ['collector']),
  // Every service ships its warnings and job lines (startLogShipping in libs/messaging).
  event(logRecorded, ['gateway', 'platform-registry', 'scheduler', 'sync-worker', 'collector']),
  event(workerHeartbeat, ['sync-worker', 'collector']),
  event(apiKeyRevoked, ['gateway']),
];

/**
 * Event types an outbox may publish several to a message (a bundle, `HEADERS.bundle`): those
 * whose every queue is consumed in batches, and so unpacks bundles. One message for the outcomes
 * of several jobs is one broker round trip instead of several, on the busiest route psc has.
 */
export const BUNDLED_TYPES: ReadonlySet<string> = new Set(
  MESSAGE_ROUTES.filter((r) => r.exchange === EXCHANGES.events)
    .map((r) => r.message.type)
    .filter((type) => {
      const queues = (Object.values(QUEUE_SPECS) as QueueSpec[]).filter((q) =>
        q.bindings.some((b) => b.exchange === EXCHANGES.events && b.routingKey === type),
      );
      return queues.length > 0 && queues.every((q) => q.batched === true);
    }),
);

function event(message: MessageDefinition, producers: ServiceName[]): MessageRoute {
  return {
    message,
    kind: 'event',
    exchange: EXCHANGES.events,
    routingKey: message.type,
    producers,
  };
}

/** Highest AMQP priority a job queue is declared with (messages carry 1 … MAX_PRIORITY). */
export const QUEUE_MAX_PRIORITY = MAX_PRIORITY + 1;
