import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import {
  backfillCursor,
  type Backfill,
  type BackfillStep,
  type Job,
  type TaskType,
} from '@psc/contracts';
import type { Outbox } from '@psc/messaging';
import type { ControlRepository } from './control.repository.ts';
import type { DeadLetterRepository } from './dead-letter.repository.ts';
import type { JobRepository } from './job.repository.ts';
import { backfillProgress, freeSlots, type StepState } from '../domain/backfill-plan.ts';
import { RERUN_BY_BACKFILL, cancellation, replayRun } from '../domain/job-ledger.ts';
import { newTraceId } from '../domain/trace-id.ts';
import { cancelMessage, jobRunMessage } from '../domain/job-messages.ts';
import { jobTraceRoots } from './job-trace-roots.ts';
import { renderParams } from '../domain/params-template.ts';

const SCHEMA = 'scheduler';

interface BackfillRow {
  id: string;
  platform_id: string;
  resource: string;
  task_type: TaskType;
  from: Date;
  to: Date;
  step: BackfillStep;
  timezone: string;
  params_template: Record<string, unknown>;
  max_concurrent: number;
  priority: number;
  cancel_reason: string | null;
  cancelled_at: Date | null;
  enqueued_at: Date | null;
  created_at: Date;
}

export interface NewBackfill {
  platformId: string;
  resource: string;
  taskType: TaskType;
  step: BackfillStep;
  timezone: string;
  paramsTemplate: Record<string, unknown>;
  maxConcurrent: number;
  priority: number;
  steps: Date[];
}

const OPEN_STATUSES = ['queued', 'running', 'retrying', 'waiting'];

/**
 * Backfills (scheduler schema): a backfill and its steps are written in one transaction; the
 * leader's tick opens each step's run as slots free up (`topUp`, inside the tick's fenced
 * transaction), so a backfill never has more than `maxConcurrent` runs open.
 */
export function createBackfillStore(deps: {
  knex: Knex;
  outbox: Outbox;
  jobs: JobRepository;
  deadLetters: DeadLetterRepository;
  control: ControlRepository;
}) {
  const { knex } = deps;
  const table = (name: string, q: Knex | Knex.Transaction = knex) =>
    q.withSchema(SCHEMA).table(name);

  /**
   * Of the runs a backfill took over (`wanted`: the run it would have opened, by the taken job's
   * id), those that ended without success, run again as their next run with the backfill's
   * params. Locked as the ledger locks them, so a report applied meanwhile is seen.
   */
  async function rerun(
    trx: Knex.Transaction,
    wanted: Map<string, Job>,
    now: Date,
    backfillId: string,
  ): Promise<Job[]> {
    if (wanted.size === 0) return [];
    const entries = await deps.jobs.lockEntries(trx, [...wanted.keys()]);
    const again = [...entries.values()]
      .filter((e) => RERUN_BY_BACKFILL.includes(e.job.status))
      .map((e) => replayRun(e, now, { backfillId, params: wanted.get(e.job.id)!.params }));
    await deps.jobs.saveEntries(trx, again);
    await deps.deadLetters.removeJobLetters(
      trx,
      again.map((e) => e.job.id),
    );
    return again.map((e) => e.job);
  }

  /**
   * Where each step's run stands, per backfill, in step order, and when the last of its runs
   * ended (what a finished backfill reports as its end).
   */
  async function stepStates(
    ids: string[],
  ): Promise<Map<string, { states: StepState[]; lastEndedAt: Date | null }>> {
    const out = new Map(
      ids.map((id) => [id, { states: [] as StepState[], lastEndedAt: null as Date | null }]),
    );
    if (ids.length === 0) return out;
    const rows = await knex
      .withSchema(SCHEMA)
      .from('backfill_steps as s')
      .leftJoin('jobs as j', 'j.id', 's.job_id')
      .whereIn('s.backfill_id', ids)
      .orderBy(['s.backfill_id', 's.step_index'])
      .select<
        {
          backfill_id: string;
          job_id: string | null;
          status: Job['status'] | null;
          finished_at: Date | null;
        }[]
      >('s.backfill_id', 's.job_id', 'j.status', 'j.finished_at');
    for (const r of rows) {
      const backfill = out.get(r.backfill_id);
      if (!backfill) continue;
      backfill.states.push(r.job_id === null ? null : (r.status ?? 'purged'));
      if (r.finished_at && (!backfill.lastEndedAt || r.finished_at > backfill.lastEndedAt))
        backfill.lastEndedAt = r.finished_at;
    }
    return out;
  }

  function toBackfill(
    row: BackfillRow,
    { states, lastEndedAt }: { states: StepState[]; lastEndedAt: Date | null },
  ): Backfill {
    const { status, progress } = backfillProgress(states, row.cancelled_at !== null);
    // A cancel ends it when asked; otherwise it ended with its last run.
    const endedAt = row.cancelled_at ?? lastEndedAt;
    return {
      id: row.id,
      platformId: row.platform_id,
      resource: row.resource,
      taskType: row.task_type,
      from: row.from.toISOString(),
      to: row.to.toISOString(),
      step: row.step,
      timezone: row.timezone,
      paramsTemplate: row.params_template,
      maxConcurrent: row.max_concurrent,
      priority: row.priority,
      status,
      progress,
      cancelReason: row.cancel_reason,
      createdAt: row.created_at.toISOString(),
      finishedAt: status === 'running' ? null : (endedAt?.toISOString() ?? null),
    };
  }

  async function read(rows: BackfillRow[]): Promise<Backfill[]> {
    const states = await stepStates(rows.map((r) => r.id));
    return rows.map((r) => toBackfill(r, states.get(r.id) ?? { states: [], lastEndedAt: null }));
  }

  return {
    async create(input: NewBackfill, now: Date): Promise<string> {
      const id = randomUUID();
      await knex.transaction(async (trx) => {
        await table('backfills', trx).insert({
          id,
          platform_id: input.platformId,
          resource: input.resource,
          task_type: input.taskType,
          from: input.steps[0],
          to: input.steps.at(-1),
          step: input.step,
          timezone: input.timezone,
          params_template: JSON.stringify(input.paramsTemplate),
          max_concurrent: input.maxConcurrent,
          priority: input.priority,
          created_at: now,
        });
        for (let i = 0; i < input.steps.length; i += 1_000) {
          await table('backfill_steps', trx).insert(
            input.steps
              .slice(i, i + 1_000)
              .map((at, j) => ({ backfill_id: id, step_index: i + j, step_at: at })),
          );
        }
        await deps.control.audit(trx, now, {
          action: 'backfill.create',
          target: `backfill:${id}`,
          reason: undefined,
          detail: {
            platformId: input.platformId,
            resource: input.resource,
            taskType: input.taskType,
            steps: input.steps.length,
          },
        });
      });
      return id;
    },

    async get(id: string): Promise<Backfill | undefined> {
      const row = (await table('backfills').where({ id }).first()) as BackfillRow | undefined;
      return row ? (await read([row]))[0] : undefined;
    },

    async list(request: {
      platformId?: string | undefined;
      limit: number;
      cursor?: string | undefined;
    }): Promise<{ items: Backfill[]; nextCursor: string | null }> {
      const query = table('backfills');
      if (request.platformId) query.where('platform_id', request.platformId);
      const after = backfillCursor.decode(request.cursor);
      if (after) query.whereRaw('(created_at, id) < (?, ?)', [after.createdAt, after.id]);
      const rows = (await query
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(request.limit + 1)) as BackfillRow[];
      const page = rows.slice(0, request.limit);
      const last = page.at(-1);
      return {
        items: await read(page),
        nextCursor:
          rows.length > request.limit && last
            ? backfillCursor.encode({ createdAt: last.created_at.toISOString(), id: last.id })
            : null,
      };
    },

    /**
     * Cancels a backfill: no further step starts, its queued runs end now and running ones are
     * asked to stop (as a job cancel would). Returns false if it was already cancelled.
     */
    async cancel(id: string, reason: string, now: Date): Promise<boolean> {
      return deps.outbox.transaction(async (trx, emit) => {
        const row = (await table('backfills', trx).where({ id }).forUpdate().first()) as
          BackfillRow | undefined;
        if (!row || row.cancelled_at) return false;
        await table('backfills', trx)
          .where({ id })
          .update({ cancelled_at: now, cancel_reason: reason });
        const open = await table('jobs', trx)
          .where({ backfill_id: id })
          .whereIn('status', OPEN_STATUSES)
          .orderBy('id')
          .forUpdate()
          .select<Pick<Job, 'id' | 'run' | 'status'>[]>('id', 'run', 'status');
        const queued = open.filter((j) => cancellation(j) === 'now').map((j) => j.id);
        if (queued.length > 0) await deps.jobs.cancelQueued(trx, now, reason, { ids: queued });
        for (const job of open) emit(cancelMessage(job, now, reason));
        await deps.control.audit(trx, now, {
          action: 'backfill.cancel',
          target: `backfill:${id}`,
          reason,
        });
        return true;
      });
    },

    /**
     * Opens the next steps' runs of every backfill with free slots, in the leader's tick
     * transaction. A step whose instant already has a run (same platform, resource and task:
     * `jobs_dedupe`) takes that run instead of a new one: as it is if it succeeded or is still
     * open; run again (its next run, with this backfill's params, out of the dead-letter queue)
     * if it failed, died or was cancelled — backfilling days again is how an operator mends
     * them. Returns the runs opened.
     */
    async topUp(
      trx: Knex.Transaction,
      now: Date,
      emitter: { replicaId: string; fencingToken: number },
    ): Promise<number> {
      // Locked like `cancel` locks it: a cancel committed while this tick was reading would
      // otherwise see its runs cancelled, free slots, and open more days of a cancelled backfill.
      // Waiting on a cancel, the row is read again after it and left out.
      const backfills = (await table('backfills', trx)
        .whereNull('enqueued_at')
        .whereNull('cancelled_at')
        .orderBy('created_at')
        .limit(100)
        .forUpdate()) as BackfillRow[];
      let opened = 0;
      for (const b of backfills) {
        // Open runs of its steps, including runs it took over from a schedule or backfill.
        const [{ open } = { open: 0 }] = (await trx
          .withSchema(SCHEMA)
          .from('backfill_steps as s')
          .join('jobs as j', 'j.id', 's.job_id')
          .where('s.backfill_id', b.id)
          .whereIn('j.status', OPEN_STATUSES)
          .count<{ open: string }[]>('* as open')) as unknown as { open: number }[];
        const slots = freeSlots(b.max_concurrent, Number(open));
        if (slots === 0) continue;
        const steps = (await table('backfill_steps', trx)
          .where({ backfill_id: b.id })
          .whereNull('job_id')
          .orderBy('step_index')
          .limit(slots)) as { step_index: number; step_at: Date }[];
        if (steps.length === 0) {
          await table('backfills', trx).where({ id: b.id }).update({ enqueued_at: now });
          continue;
        }
        const jobs: Job[] = steps.map((s) => ({
          id: randomUUID(),
          platformId: b.platform_id,
          resource: b.resource,
          taskType: b.task_type,
          status: 'queued',
          priority: b.priority,
          trigger: 'backfill',
          attempts: 0,
          run: 1,
          // Checked when the backfill was created; the same template, the same zone.
          params: renderParams(
            b.params_template,
            { date: s.step_at, now, timezone: b.timezone },
            'paramsTemplate',
          ),
          stats: null,
          error: null,
          nextAttemptAt: null,
          traceId: newTraceId(),
          scheduledFor: s.step_at.toISOString(),
          backfillId: b.id,
          createdAt: now.toISOString(),
          startedAt: null,
          finishedAt: null,
          updatedAt: now.toISOString(),
        }));
        const inserted = await deps.jobs.insertScheduled(trx, jobs, emitter);
        const taken = jobs.filter((j) => !inserted.has(j.id));
        const existing =
          taken.length > 0
            ? await table('jobs', trx)
                .where({
                  platform_id: b.platform_id,
                  resource: b.resource,
                  task_type: b.task_type,
                })
                .whereIn(
                  'scheduled_for',
                  taken.map((j) => new Date(j.scheduledFor!)),
                )
                .select<{ id: string; scheduled_for: Date }[]>('id', 'scheduled_for')
            : [];
        const byInstant = new Map(existing.map((e) => [e.scheduled_for.getTime(), e.id]));
        const wanted = new Map<string, Job>();
        for (const [i, s] of steps.entries()) {
          const job = jobs[i]!;
          const jobId = inserted.has(job.id) ? job.id : byInstant.get(s.step_at.getTime());
          if (jobId && jobId !== job.id) wanted.set(jobId, job);
          await table('backfill_steps', trx)
            .where({ backfill_id: b.id, step_index: s.step_index })
            .update({ job_id: jobId ?? null });
        }
        const again = await rerun(trx, wanted, now, b.id);
        const opening = [...jobs.filter((j) => inserted.has(j.id)), ...again];
        const roots = jobTraceRoots('backfill', opening);
        roots.endOnCommit(trx);
        await deps.outbox.write(
          trx,
          opening.map((j) => jobRunMessage(j, now, undefined, roots.parentOf(j.id))),
        );
        opened += inserted.size + again.length;
      }
      return opened;
    },
  };
}

export type BackfillStore = ReturnType<typeof createBackfillStore>;
