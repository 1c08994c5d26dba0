import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerCounter, registerGauge, registerHistogram } from './register-metric.ts';
import { SPAN_DROP_REASONS } from './span-export-counts.ts';

/**
 * Every metric psc exports, once: name, type, help, labels with the bound on their values, buckets
 * and the services that export it. docs/METRICS.md explains them, the Prometheus rules and the
 * Grafana dashboard in deploy/ may name only these (test/deploy checks both), and services create
 * them with {@link registerCatalogMetric} so the names cannot drift.
 */

/** The services of psc, as they label their metrics (`service`). */
export const METRIC_SERVICES = [
  'gateway',
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
] as const;
/** One of {@link METRIC_SERVICES}. */
export type MetricService = (typeof METRIC_SERVICES)[number];

/**
 * What keeps a label's values finite. `values`: a closed list. `bound`: a set an operator controls
 * through configuration (registered platforms, their resources, the broker topology, the routes);
 * never per record, per job, per request or per process.
 */
export type LabelBound =
  | { readonly values: readonly string[] }
  | { readonly bound: 'platforms' | 'resources' | 'queues' | 'routes' | 'http-status' };

/** One metric family as psc exports it. */
export interface MetricSpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** The `# HELP` text: what one sample means, with its unit. */
  readonly help: string;
  /** Labels besides `service`, which every psc metric carries. */
  readonly labels: Readonly<Record<string, LabelBound>>;
  /** Histograms only: upper bounds in the metric's unit. Alert thresholds sit on a bound. */
  readonly buckets?: readonly number[];
  readonly exportedBy: readonly MetricService[];
}

/** Task types, as in `libs/contracts` TASK_TYPES. */
const TASK_TYPE: LabelBound = { values: ['sync', 'validate', 'collect'] };
/** Job states of the ledger (`libs/contracts` JOB_STATUSES) plus `waiting` (held back by a breaker). */
const JOB_STATUS: LabelBound = {
  values: ['queued', 'running', 'waiting', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled'],
};
const WORKERS: readonly MetricService[] = ['sync-worker', 'collector'];

/**
 * The catalog. Keys are for code (`PSC_METRICS.jobsTotal`); `name` is what Prometheus sees.
 * Gauges read from a table (DLQ, outbox, last success) are computed at scrape time, so every
 * replica reports the same figure: queries aggregate them with `max`, never `sum`.
 */
export const PSC_METRICS = {
  jobsTotal: {
    name: 'psc_jobs_total',
    type: 'counter',
    help: 'Jobs moved into each status by the ledger (queued = created, succeeded/failed/dead/cancelled = finished).',
    labels: { task_type: TASK_TYPE, status: JOB_STATUS },
    exportedBy: ['scheduler'],
  },
  jobDuration: {
    name: 'psc_job_duration_seconds',
    type: 'histogram',
    help: 'Seconds one attempt of a job ran in a worker, from start to commit or failure.',
    labels: { task_type: TASK_TYPE },
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900],
    exportedBy: WORKERS,
  },
  jobsActive: {
    name: 'psc_jobs_active',
    type: 'gauge',
    help: 'Jobs this worker process is running now.',
    labels: { task_type: TASK_TYPE },
    exportedBy: WORKERS,
  },
  jobsHandedBack: {
    name: 'psc_jobs_handed_back_total',
    type: 'counter',
    help: 'Deliveries this worker held next in line and put back in the queue after PSC_HAND_BACK_MS without a free slot.',
    labels: { queue: { bound: 'queues' } },
    exportedBy: WORKERS,
  },
  messagesHeld: {
    name: 'psc_messages_held_total',
    type: 'counter',
    help: "Times a consumer held a delivery (a batch, for the ledger's job events) because psc's own database was unavailable: no attempt is spent, it is tried again after a wait of 0.5 s doubling to 30 s.",
    labels: { queue: { bound: 'queues' } },
    exportedBy: ['platform-registry', 'scheduler', 'sync-worker', 'collector'],
  },
  messagesDeadLettered: {
    name: 'psc_messages_dead_lettered_total',
    type: 'counter',
    help: 'Messages a consumer gave up on: poison (unreadable, or of a type the queue does not accept; parked at once with its reason) or failed on every attempt. Each ends in the dead-letter queue API (GET /api/v1/dlq).',
    labels: { queue: { bound: 'queues' } },
    exportedBy: ['platform-registry', 'scheduler', 'sync-worker', 'collector'],
  },
  queueMessages: {
    name: 'psc_queue_messages',
    type: 'gauge',
    help: 'Messages in a durable psc queue, ready (waiting for a consumer) or unacked (being handled).',
    labels: { queue: { bound: 'queues' }, state: { values: ['ready', 'unacked'] } },
    exportedBy: ['gateway'],
  },
  dlqMessages: {
    name: 'psc_dlq_messages',
    type: 'gauge',
    help: 'Dead-lettered jobs waiting for an operator (inspect, replay or delete).',
    labels: { task_type: TASK_TYPE },
    exportedBy: ['scheduler'],
  },
  breakerState: {
    name: 'psc_breaker_state',
    type: 'gauge',
    help: "This worker's breaker for a platform: 0 closed, 1 half-open, 2 open.",
    labels: { platform: { bound: 'platforms' } },
    exportedBy: WORKERS,
  },
  platformDeferrals: {
    name: 'psc_platform_deferrals_total',
    type: 'counter',
    help: 'Jobs deferred (no try spent) before calling a platform: its breaker open, its rate-limit turn too far off (turn booked), or its request slots taken.',
    labels: { platform: { bound: 'platforms' }, reason: { values: ['breaker', 'rate', 'slots'] } },
    exportedBy: WORKERS,
  },
  platformSlotWaits: {
    name: 'psc_platform_slot_waits',
    type: 'gauge',
    help: 'Requests of this worker waiting for a free request slot of a platform (its rateLimit.concurrency).',
    labels: { platform: { bound: 'platforms' } },
    exportedBy: WORKERS,
  },
  scheduleLag: {
    name: 'psc_schedule_lag_seconds',
    type: 'histogram',
    help: 'Seconds from a scheduled run being due (jitter included) to the scheduler emitting it.',
    labels: {},
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    exportedBy: ['scheduler'],
  },
  schedulerLeader: {
    name: 'psc_scheduler_leader',
    type: 'gauge',
    help: '1 while this scheduler replica holds the leader lease (emits due runs), else 0.',
    labels: {},
    exportedBy: ['scheduler'],
  },
  schedulerPlans: {
    name: 'psc_scheduler_plans_total',
    type: 'counter',
    help: 'Plans the leader made from every schedule, by why: it became leader, what plans are made from changed, a schedule fell due, the periodic refresh, or ahead of a due time.',
    labels: { reason: { values: ['leader', 'changed', 'due', 'refresh', 'ahead'] } },
    exportedBy: ['scheduler'],
  },
  outboxPending: {
    name: 'psc_outbox_pending',
    type: 'gauge',
    help: "Messages in this service's outbox not yet published to RabbitMQ.",
    labels: {},
    exportedBy: ['platform-registry', 'scheduler', 'sync-worker', 'collector'],
  },
  outboxOldestAge: {
    name: 'psc_outbox_oldest_age_seconds',
    type: 'gauge',
    help: "Age of the oldest message in this service's outbox not yet published to RabbitMQ; 0 when it is empty.",
    labels: {},
    exportedBy: ['platform-registry', 'scheduler', 'sync-worker', 'collector'],
  },
  platformRequests: {
    name: 'psc_platform_requests_total',
    type: 'counter',
    help: 'Requests to a platform by outcome: the HTTP status, or timeout, connection_error, egress_denied.',
    labels: { platform: { bound: 'platforms' }, status: { bound: 'http-status' } },
    exportedBy: WORKERS,
  },
  platformRequestDuration: {
    name: 'psc_platform_request_duration_seconds',
    type: 'histogram',
    help: 'Seconds from sending a platform request to its body read (or its failure).',
    labels: { platform: { bound: 'platforms' } },
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    exportedBy: WORKERS,
  },
  resourceLastSuccess: {
    name: 'psc_resource_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the last successful sync of a platform resource (absent until the first).',
    labels: { platform: { bound: 'platforms' }, resource: { bound: 'resources' } },
    exportedBy: ['scheduler'],
  },
  resourceSyncInterval: {
    name: 'psc_resource_sync_interval_seconds',
    type: 'gauge',
    help: "Seconds between a resource's scheduled syncs (cron: the longest gap of its next 10 fire times); absent while not scheduled or paused by an operator.",
    labels: { platform: { bound: 'platforms' }, resource: { bound: 'resources' } },
    exportedBy: ['scheduler'],
  },
  resourceSyncScheduleStart: {
    name: 'psc_resource_sync_schedule_start_timestamp_seconds',
    type: 'gauge',
    help: "Unix time the resource's sync schedule last started: created, enabled, resumed or retimed.",
    labels: { platform: { bound: 'platforms' }, resource: { bound: 'resources' } },
    exportedBy: ['scheduler'],
  },
  httpRequestDuration: {
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request start to response end, by method, route pattern and status.',
    labels: {
      method: { values: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
      route: { bound: 'routes' },
      status: { bound: 'http-status' },
    },
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    exportedBy: METRIC_SERVICES,
  },
  traceSpansDropped: {
    name: 'psc_trace_spans_dropped_total',
    type: 'counter',
    help: 'Finished spans lost before the trace collector took them: queue_full (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full) or export_failed (the collector failed, refused or did not answer their export). 0 while tracing is off.',
    labels: { reason: { values: SPAN_DROP_REASONS } },
    exportedBy: METRIC_SERVICES,
  },
  traceSpansExported: {
    name: 'psc_trace_spans_exported_total',
    type: 'counter',
    help: 'Finished spans the trace collector accepted. 0 while tracing is off.',
    labels: {},
    exportedBy: METRIC_SERVICES,
  },
} as const satisfies Record<string, MetricSpec>;

/** The prefix of the Node.js and process metrics `createMetrics` collects on every service. */
const DEFAULT_METRICS_PREFIX = 'psc_';

/** The sample names one family produces in the exposition format. */
export function seriesNames(family: { name: string; type: string }): string[] {
  if (family.type === 'histogram') {
    return ['_bucket', '_sum', '_count'].map((suffix) => `${family.name}${suffix}`);
  }
  if (family.type === 'summary') return [family.name, `${family.name}_sum`, `${family.name}_count`];
  return [family.name];
}

/**
 * The default Node.js and process families (`psc_process_*`, `psc_nodejs_*`), as the installed
 * prom-client names them: read from a scratch registry, so a prom-client upgrade cannot leave the
 * list stale.
 */
export function defaultMetricFamilies(): { name: string; type: MetricSpec['type'] | 'summary' }[] {
  const scratch = new Registry();
  collectDefaultMetrics({ register: scratch, prefix: DEFAULT_METRICS_PREFIX });
  const families = scratch.getMetricsAsArray().map((metric) => ({
    name: metric.name,
    type:
      metric instanceof Histogram
        ? ('histogram' as const)
        : metric instanceof Counter
          ? ('counter' as const)
          : metric instanceof Gauge
            ? ('gauge' as const)
            : ('summary' as const),
  }));
  scratch.clear();
  return families;
}

/** Label names of a spec, in declaration order, for prom-client. */
type LabelNames<S extends MetricSpec> = keyof S['labels'] & string;
/** The prom-client metric a spec becomes. */
export type CatalogMetric<S extends MetricSpec> = S['type'] extends 'counter'
  ? Counter<LabelNames<S>>
  : S['type'] extends 'gauge'
    ? Gauge<LabelNames<S>>
    : Histogram<LabelNames<S>>;

/**
 * Creates (or returns, when it exists) the catalog metric `spec` on `registry`, e.g.
 * `registerCatalogMetric(metrics.registry, PSC_METRICS.jobsTotal).inc({task_type, status})`.
 */
export function registerCatalogMetric<S extends MetricSpec>(
  registry: Registry,
  spec: S,
): CatalogMetric<S> {
  const common = {
    name: spec.name,
    help: spec.help,
    labelNames: Object.keys(spec.labels) as LabelNames<S>[],
  };
  switch (spec.type) {
    case 'counter':
      return registerCounter(registry, common) as CatalogMetric<S>;
    case 'gauge':
      return registerGauge(registry, common) as CatalogMetric<S>;
    case 'histogram':
      return registerHistogram(registry, {
        ...common,
        buckets: [...(spec.buckets ?? [])],
      }) as CatalogMetric<S>;
  }
}
