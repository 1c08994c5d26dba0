import type { Knex } from 'knex';
import { TASK_TYPES, type Job, type JobStatus, type TaskType } from '@psc/contracts';
import {
  PSC_METRICS,
  registerCatalogMetric,
  registerScrapeGauge,
  type Logger,
  type Metrics,
} from '@psc/telemetry';
import { runningSyncSchedules, type SyncSchedule } from '../domain/sync-schedules.ts';
import type { PlanReason } from '../domain/tick-plan.ts';
import type { ControlRepository } from './control.repository.ts';
import type { JobRepository } from './job.repository.ts';
import type { PlatformRepository } from './platform.repository.ts';
import type { ScheduleRepository } from './schedule.repository.ts';
import type { LedgerStore } from './ledger.store.ts';

/**
 * The scheduler's metrics: job transitions of the ledger (`psc_jobs_total`), the schedule lag
 * and the leader flag, and the figures read from its tables at scrape time (dead letters, outbox,
 * last successful sync per resource).
 */
export function createSchedulerMetrics(deps: {
  registry: Metrics['registry'];
  knex: Knex;
  schema: string;
  outboxPending: () => Promise<number>;
  outboxOldestAge: () => Promise<number>;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  now: () => Date;
  logger: Logger;
}) {
  const { registry, knex, schema } = deps;
  const jobsTotal = registerCatalogMetric(registry, PSC_METRICS.jobsTotal);
  const lag = registerCatalogMetric(registry, PSC_METRICS.scheduleLag);
  const leader = registerCatalogMetric(registry, PSC_METRICS.schedulerLeader);
  const plans = registerCatalogMetric(registry, PSC_METRICS.schedulerPlans);
  leader.set(0);
  const warn = (what: string) => (err: unknown) =>
    deps.logger.warn({ err: String(err) }, `${what} not read for /metrics`);

  registerScrapeGauge(
    registry,
    PSC_METRICS.dlqMessages,
    async () => {
      const rows = (await knex
        .withSchema(schema)
        .table('dead_letters')
        .whereIn('task_type', TASK_TYPES)
        .groupBy('task_type')
        .select('task_type')
        .count<{ task_type: string; n: string }[]>('* as n')) as { task_type: string; n: string }[];
      const counts = new Map(rows.map((r) => [r.task_type, Number(r.n)]));
      return TASK_TYPES.map((t) => ({ labels: { task_type: t }, value: counts.get(t) ?? 0 }));
    },
    warn('dead letters'),
  );
  registerScrapeGauge(
    registry,
    PSC_METRICS.outboxPending,
    async () => [{ value: await deps.outboxPending() }],
    warn('outbox size'),
  );
  registerScrapeGauge(
    registry,
    PSC_METRICS.outboxOldestAge,
    async () => [{ value: await deps.outboxOldestAge() }],
    warn('outbox age'),
  );
  // Platforms the scheduler knows and has not seen deleted: a deleted platform's series go.
  registerScrapeGauge(
    registry,
    PSC_METRICS.resourceLastSuccess,
    async () => {
      type Row = { platform_id: string; resource: string; at: Date };
      // Per resource, its newest succeeded sync, found walking the (platform, resource, task,
      // created_at) index back from the newest job: a max() over the ledger read every
      // succeeded sync of the retained 30 days on each scrape.
      const { rows } = await knex.raw<{ rows: Row[] }>(
        `select p.id as platform_id, r.name as resource, j.finished_at as at
           from ??.platforms p
          cross join lateral jsonb_to_recordset(p.resources) as r(name text)
          cross join lateral (
                select finished_at from ??.jobs
                 where platform_id = p.id and resource = r.name
                   and task_type = 'sync' and status = 'succeeded'
                 order by created_at desc
                 limit 1) j
          where not p.deleted`,
        [schema, schema],
      );
      return rows.map((r) => ({
        labels: { platform: r.platform_id, resource: r.resource },
        value: r.at.getTime() / 1000,
      }));
    },
    warn('last successful syncs'),
  );

  // Both schedule gauges read the same snapshot: one read per scrape, not two.
  let snapshot: { at: number; value: Promise<SyncSchedule[]> } | undefined;
  async function readSchedules(): Promise<SyncSchedule[]> {
    const now = deps.now();
    const [control, configs, platforms, updated] = await Promise.all([
      deps.control.get(),
      deps.schedules.taskConfigs(),
      deps.platforms.listSchedulable(),
      knex
        .withSchema(schema)
        .table('platforms')
        .select<{ id: string; updated_at: Date }[]>('id', 'updated_at'),
    ]);
    const updatedAt = new Map(updated.map((r) => [r.id, r.updated_at]));
    const sync = configs.find((c) => c.task_type === 'sync');
    return runningSyncSchedules(
      {
        running: control.state === 'running',
        runningSince: control.resumed_at ?? control.changed_at,
        syncConfig: sync && {
          spec: sync.spec,
          paused: !!sync.paused_reason,
          updatedAt: sync.updated_at,
        },
        platforms: platforms.map((p) => ({ ...p, updatedAt: updatedAt.get(p.id) ?? now })),
      },
      now,
    );
  }
  const schedulesNow = () => {
    if (!snapshot || Date.now() - snapshot.at > 1_000) {
      snapshot = { at: Date.now(), value: readSchedules() };
    }
    return snapshot.value;
  };
  registerScrapeGauge(
    registry,
    PSC_METRICS.resourceSyncInterval,
    async () =>
      (await schedulesNow()).map((s) => ({
        labels: { platform: s.platformId, resource: s.resource },
        value: s.intervalSeconds,
      })),
    warn('sync schedules'),
  );
  registerScrapeGauge(
    registry,
    PSC_METRICS.resourceSyncScheduleStart,
    async () =>
      (await schedulesNow()).map((s) => ({
        labels: { platform: s.platformId, resource: s.resource },
        value: s.startedAt.getTime() / 1000,
      })),
    warn('sync schedules'),
  );

  const count = (taskType: TaskType, status: JobStatus, n = 1) =>
    jobsTotal.inc({ task_type: taskType, status }, n);
  const countJobs = (jobs: readonly Job[], status?: JobStatus) => {
    for (const job of jobs) count(job.taskType, status ?? job.status);
  };

  return {
    /** The tick loop's leader flag. */
    setLeader: (isLeader: boolean) => leader.set(isLeader ? 1 : 0),
    /** A scheduled run emitted `seconds` after it was due (its jitter included). */
    observeLag: (seconds: number) => lag.observe(Math.max(0, seconds)),
    /** The leader planned from every schedule, for `reason`. */
    countPlan: (reason: PlanReason) => plans.inc({ reason }),
    /**
     * The job repository, counting the jobs it creates (`queued`) and cancels while still queued.
     * Counted as the statement returns: a scheduled run's transaction rolled back afterwards
     * (rare: a lost lease) over-counts by its jobs.
     */
    countingJobs(jobs: JobRepository): JobRepository {
      return {
        ...jobs,
        async insertWith(part, batch, revisions) {
          const seqs = await jobs.insertWith(part, batch, revisions);
          countJobs(batch, 'queued');
          return seqs;
        },
        async insertScheduled(trx, batch, emitter) {
          const inserted = await jobs.insertScheduled(trx, batch, emitter);
          countJobs(
            batch.filter((j) => inserted.has(j.id)),
            'queued',
          );
          return inserted;
        },
        async cancelQueued(...args) {
          const cancelled = await jobs.cancelQueued(...args);
          for (const job of cancelled) count(job.taskType, 'cancelled');
          return cancelled;
        },
        async saveEntries(trx, entries) {
          await jobs.saveEntries(trx, entries);
          // Only a replay, or a backfill running a day again, saves a job as queued (its next run).
          countJobs(entries.filter((e) => e.job.status === 'queued').map((e) => e.job));
        },
      };
    },
    /** The ledger, counting each status a worker report moved a job into, once committed. */
    countingLedger(ledger: LedgerStore): LedgerStore {
      return {
        ...ledger,
        async apply(reports) {
          const changes = await ledger.apply(reports);
          for (const c of changes)
            if (c.job.status !== c.before) count(c.job.taskType, c.job.status);
          return changes;
        },
      };
    },
  };
}
