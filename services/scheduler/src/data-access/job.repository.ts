import type { Knex } from 'knex';
import type { Job, JobStats, JobStatus } from '@psc/contracts';
import { movesForward, type LedgerEvent } from '../domain/job-transitions.ts';

interface JobRow {
  id: string;
  platform_id: string;
  resource: string;
  task_type: Job['taskType'];
  status: JobStatus;
  priority: number;
  trigger: Job['trigger'];
  attempts: number;
  params: Record<string, unknown>;
  stats: JobStats | null;
  error: Job['error'];
  trace_id: string | null;
  progress_attempt: number;
  progress_phase: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    platformId: row.platform_id,
    resource: row.resource,
    taskType: row.task_type,
    status: row.status,
    priority: row.priority,
    trigger: row.trigger,
    attempts: row.attempts,
    params: row.params,
    stats: row.stats,
    error: row.error,
    traceId: row.trace_id,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface EventUpdate extends LedgerEvent {
  at: Date;
  stats?: JobStats;
  error?: Job['error'];
}

export function createJobRepository(knex: Knex) {
  const jobs = (q: Knex | Knex.Transaction = knex) => q.withSchema('scheduler').table('jobs');

  return {
    async insert(trx: Knex.Transaction, job: Job): Promise<void> {
      await jobs(trx).insert({
        id: job.id,
        platform_id: job.platformId,
        resource: job.resource,
        task_type: job.taskType,
        status: job.status,
        priority: job.priority,
        trigger: job.trigger,
        attempts: job.attempts,
        params: JSON.stringify(job.params) as unknown as JobRow['params'],
        trace_id: job.traceId,
        created_at: new Date(job.createdAt),
        updated_at: new Date(job.updatedAt),
      });
    },

    async findById(id: string): Promise<Job | undefined> {
      const row = (await jobs().where({ id }).first()) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    },

    /** Applies a worker's event if it moves the job forward; returns whether it did. */
    async applyEvent(id: string, event: EventUpdate): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const row = (await jobs(trx).where({ id }).forUpdate().first()) as JobRow | undefined;
        if (!row) return false;
        const current = {
          status: row.status,
          attempt: row.progress_attempt,
          phase: row.progress_phase,
        };
        if (!movesForward(current, event)) return false;
        const finished = event.status !== 'running' && event.status !== 'retrying';
        await jobs(trx)
          .where({ id })
          .update({
            status: event.status,
            progress_attempt: event.attempt,
            progress_phase: event.phase,
            attempts: Math.max(row.attempts, event.attempt),
            started_at: row.started_at ?? event.at,
            updated_at: event.at,
            ...(finished ? { finished_at: event.at } : {}),
            ...(event.stats ? { stats: JSON.stringify(event.stats) as unknown as JobStats } : {}),
            ...(event.error !== undefined
              ? { error: JSON.stringify(event.error) as unknown as Job['error'] }
              : {}),
          });
        return true;
      });
    },
  };
}

export type JobRepository = ReturnType<typeof createJobRepository>;
