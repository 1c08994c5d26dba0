import type { Knex } from 'knex';
import type { Logger } from '@psc/telemetry';
import type { Outbox, OutboxMessage } from '@psc/messaging';
import type { ControlRepository } from './control.repository.ts';
import type { JobRepository } from './job.repository.ts';
import type { LeaseRepository } from './lease.repository.ts';
import type { PlatformRepository } from './platform.repository.ts';
import type { ScheduleRepository } from './schedule.repository.ts';
import type { BackfillStore } from './backfill.store.ts';
import type { CollectStop, CollectStopRepository } from './collect-stop.repository.ts';
import type { PlanChangeRepository } from './plan-change.repository.ts';
import type { Job } from '@psc/contracts';
import { autoPausedMessage, cancelMessage, jobRunMessage } from '../domain/job-messages.ts';
import { jobTraceRoots } from './job-trace-roots.ts';
import { CANCEL_BATCH, collectStopCancelReason, stopCancelReason } from '../domain/cancellation.ts';
import {
  planReason,
  planTick,
  type LastPlan,
  type PlanReason,
  type TickPlan,
} from '../domain/tick-plan.ts';
import { scheduleKey } from './schedule.repository.ts';
import { shareSwitchesForRuns } from './switch-lock.ts';

export const LEASE_NAME = 'scheduler';

export interface TickSettings {
  replicaId: string;
  leaseMs: number;
  /** Fire times older than this (ms before now) count as missed: the misfire policy applies. */
  missGraceMs: number;
  /** The least time before a due time that the leader plans it (see `prepare`). */
  planAheadMs: number;
}

export interface TickResult {
  leader: boolean;
  enqueued: number;
  cancelled: number;
  /** When the soonest schedule falls due next (the leader's plan); the loop may tick then. */
  wakeAt?: Date | undefined;
}

/** The tick's writes were refused: the lease was lost (expired, taken over) meanwhile. */
class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

const CANCEL_REASON = 'platform inactive, deleted or stopped';

/** A plan made ahead is used by a tick at most this long after its instant; later, plan anew. */
const PREPARED_VALID_MS = 1_000;

/**
 * Runs due together beyond this many are written by more than one transaction, two at a time
 * (see `writeRuns`).
 */
const RUNS_PER_WRITE = 2_500;

type ScheduleUpsert = TickPlan['upserts'][number];

/** A share of a plan's runs, with the schedules they advance. */
interface RunPart {
  jobs: Job[];
  upserts: ScheduleUpsert[];
}

/**
 * The plan's runs in parts of about RUNS_PER_WRITE, the runs of one schedule always in the same
 * part, each with the upserts of its schedules; the first part also takes every other upsert.
 */
function runParts(plan: TickPlan): RunPart[] {
  const byKey = new Map<string, Job[]>();
  for (const job of plan.jobs) {
    const key = scheduleKey(job.platformId, job.resource, job.taskType);
    const runs = byKey.get(key);
    if (runs) runs.push(job);
    else byKey.set(key, [job]);
  }
  const parts: { jobs: Job[]; keys: Set<string> }[] = [{ jobs: [], keys: new Set() }];
  for (const [key, runs] of byKey) {
    let part = parts[parts.length - 1]!;
    if (part.jobs.length > 0 && part.jobs.length + runs.length > RUNS_PER_WRITE) {
      part = { jobs: [], keys: new Set() };
      parts.push(part);
    }
    part.jobs.push(...runs);
    part.keys.add(key);
  }
  const partOf = new Map<string, number>();
  parts.forEach((p, i) => p.keys.forEach((k) => partOf.set(k, i)));
  const upserts: ScheduleUpsert[][] = parts.map(() => []);
  for (const u of plan.upserts) {
    upserts[partOf.get(scheduleKey(u.platform_id, u.resource, u.task_type)) ?? 0]!.push(u);
  }
  return parts.map((p, i) => ({ jobs: p.jobs, upserts: upserts[i]! }));
}

/**
 * A plan made ahead of the instant it is for (see `prepare`), with what it was made from: the
 * tick at that instant writes it only if all of it is still so.
 */
interface Prepared {
  at: number;
  token: number;
  /** The count of the leader's own plans when it was begun (see `planned`). */
  planned: number;
  changes: string;
  control: string;
  stopped: string;
  openKeys: ReadonlySet<string>;
  plan: TickPlan;
  /** The `job.run` of each of `plan.jobs`, by job id. */
  messages: Map<string, OutboxMessage>;
}

const controlKey = (c: { state: string; resumed_at: Date | null }) =>
  `${c.state}:${c.resumed_at?.getTime() ?? ''}`;
const setKey = (keys: ReadonlySet<string>) => [...keys].sort().join('\n');

/**
 * One scheduler tick: take or renew the lease; read what is scheduled and decide what is due
 * (planTick) with no transaction open, unless the leader's last plan still holds (nothing it
 * was made from changed, nothing due yet: `planReason`), so an idle leader does not read every
 * schedule every tick, or a plan made ahead for this due time still holds (`prepare`); then
 * write it in short transactions (one, or one per part of many runs: `writeRuns`) that each
 * commit only while this replica still holds the lease under the same fencing token. A replica frozen
 * in that transaction holds no lock on the lease (the token is checked, share-locked, just
 * before the commit) and PostgreSQL ends its session after a lease of idleness, so another
 * replica takes over within lease + a tick.
 */
export function createTickStore(deps: {
  knex: Knex;
  outbox: Outbox;
  leases: LeaseRepository;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  jobs: JobRepository;
  backfills: BackfillStore;
  collectStops: CollectStopRepository;
  planChanges: PlanChangeRepository;
  logger: Logger;
  settings: TickSettings;
  /** Told, per scheduled run emitted, how late it was: seconds after its (jittered) due time. */
  observeLag?: (seconds: number) => void;
  /** Told each time the leader plans from every schedule, and why. */
  countPlan?: (reason: PlanReason) => void;
}) {
  const { settings: s } = deps;
  /** This replica's last plan as leader, committed; kept while it still holds (planReason). */
  let lastPlan: LastPlan | undefined;
  let prepared: Prepared | undefined;
  /**
   * Plans the ticks made themselves. A tick that plans consumes the changes it saw, so a plan
   * made ahead before it no longer shows as stale by the changes left at its instant: it is
   * dropped instead (a plan ahead that began before such a tick is never used).
   */
  let planned = 0;
  /** How long the last `prepare` took: the loop starts the next one twice that early. */
  let prepareMs = 0;

  /**
   * Stopped collectors' queued scheduled runs, a batch per reason: the stop cancelled its first
   * batch itself; this takes the rest.
   */
  async function cancelStoppedCollects(
    trx: Knex.Transaction,
    stops: CollectStop[],
    now: Date,
  ): Promise<number> {
    const byReason = new Map<string, CollectStop[]>();
    for (const stop of stops) {
      const why = collectStopCancelReason(stop.reason);
      byReason.set(why, [...(byReason.get(why) ?? []), stop]);
    }
    let total = 0;
    for (const [why, resources] of byReason) {
      const jobs = await deps.jobs.cancelQueued(trx, now, why, {
        scheduled: { taskType: 'collect', resources },
        limit: CANCEL_BATCH,
      });
      await deps.outbox.write(
        trx,
        jobs.map((job) => cancelMessage(job, now, why)),
      );
      total += jobs.length;
    }
    return total;
  }

  /** Reads the rest of what a plan is made from, and plans (when the last plan no longer holds). */
  async function replan(now: Date, control: { resumed_at: Date | null }, stopped: Set<string>) {
    const [taskConfigs, schedules, openKeys, platforms] = await Promise.all([
      deps.schedules.taskConfigs(),
      deps.schedules.all(),
      deps.jobs.openKeys(),
      deps.platforms.listSchedulable(),
    ]);
    const plan = planTick({ taskConfigs, schedules, openKeys, platforms, stopped }, now, {
      missGraceMs: s.missGraceMs,
      resumedAt: control.resumed_at,
    });
    return { plan, openKeys };
  }

  const stopKeys = (stops: CollectStop[]) =>
    new Set(stops.map((c) => scheduleKey(c.platformId, c.resource, 'collect')));

  /**
   * The plan of the tick at `at`, made ahead of it: the reads and the planning of many runs due
   * together (10,000 took half a second) then happen before their instant rather than after it.
   * That tick writes it only if it is still leader under the same term and nothing the plan was
   * made from changed: no new plan change, the same switch and collector stops, and every
   * `overlap: skip` key it decided still open or not as it was. Otherwise it plans as usual.
   */
  async function prepare(at: Date): Promise<void> {
    prepared = undefined;
    const token = lastPlan?.token;
    if (token === undefined) return;
    const started = performance.now();
    const begun = planned;
    const changes = await deps.planChanges.pending();
    const [control, collectStops] = await Promise.all([
      deps.control.get(),
      deps.collectStops.list(),
    ]);
    if (control.state !== 'running') return;
    const stopped = stopKeys(collectStops);
    const { plan, openKeys } = await replan(at, control, stopped);
    deps.countPlan?.('ahead');
    prepared = {
      at: at.getTime(),
      token,
      planned: begun,
      changes: changes.join(),
      control: controlKey(control),
      stopped: setKey(stopped),
      openKeys,
      plan,
      messages: new Map(plan.jobs.map((j) => [j.id, jobRunMessage(j, at)])),
    };
    prepareMs = performance.now() - started;
  }

  /** The plan made ahead for this tick, if it still holds (see `prepare`). */
  async function preparedFor(
    now: Date,
    seen: { token: number; changes: string[]; control: string; stopped: Set<string> },
  ): Promise<Prepared | undefined> {
    const ahead = prepared;
    // Made for a later instant: kept for it (if this tick plans, it is dropped there).
    if (!ahead || ahead.at > now.getTime()) return undefined;
    prepared = undefined;
    if (
      now.getTime() - ahead.at > PREPARED_VALID_MS ||
      ahead.planned !== planned ||
      ahead.token !== seen.token ||
      ahead.changes !== seen.changes.join() ||
      ahead.control !== seen.control ||
      ahead.stopped !== setKey(seen.stopped)
    ) {
      return undefined;
    }
    if (ahead.plan.overlapKeys.length > 0) {
      const open = await deps.jobs.openKeys();
      if (ahead.plan.overlapKeys.some((k) => open.has(k) !== ahead.openKeys.has(k)))
        return undefined;
    }
    return ahead;
  }

  /**
   * Writes a part of a plan's runs in `trx`: the jobs, their `job.run`s and the schedules they
   * advance. A schedule's runs and its advance are always in the same transaction, so one that
   * fails leaves its schedules due for the next tick and every other part stands. A run a stop
   * forbids by now is not written (its schedule still advances past it).
   */
  async function writeRuns(
    trx: Knex.Transaction,
    part: RunPart,
    plan: TickPlan,
    ahead: Prepared | undefined,
    token: number,
    now: Date,
  ): Promise<number> {
    // Before the runs are written, so a stop committed since the plan was made is read (and a
    // stop that begins now waits for this transaction): see switch-lock.ts.
    if (part.jobs.length > 0) await shareSwitchesForRuns(trx);
    const inserted = await deps.jobs.insertScheduled(trx, part.jobs, {
      replicaId: s.replicaId,
      fencingToken: token,
    });
    const runs = part.jobs.filter((j) => inserted.has(j.id));
    const roots = jobTraceRoots('scheduled', runs);
    roots.endOnCommit(trx);
    await deps.outbox.write(
      trx,
      runs.map((j) => {
        const message = ahead?.messages.get(j.id) ?? jobRunMessage(j, now);
        const traceParent = roots.parentOf(j.id);
        return traceParent ? { ...message, traceParent } : message;
      }),
    );
    for (const j of runs) {
      const dueAt = plan.dueAt.get(j.id);
      if (dueAt) deps.observeLag?.((now.getTime() - dueAt.getTime()) / 1000);
    }
    await deps.schedules.upsertMany(trx, part.upserts);
    return runs.length;
  }

  async function tick(now: Date): Promise<TickResult> {
    const token = await deps.leases.acquire(LEASE_NAME, s.replicaId, now, s.leaseMs);
    if (token === null) {
      lastPlan = undefined;
      return { leader: false, enqueued: 0, cancelled: 0 };
    }
    // Before anything a plan is made from: a change that commits after this read is planned
    // again next tick, even if this tick's reads already see it.
    const changes = await deps.planChanges.pending();
    const [control, unschedulable, collectStops] = await Promise.all([
      deps.control.get(),
      deps.platforms.listUnschedulableIds(),
      deps.collectStops.list(),
    ]);
    const stopped = stopKeys(collectStops);
    const running = control.state === 'running';
    const reason = running ? planReason(lastPlan, { token, changes: changes.length, now }) : null;
    if (!running) lastPlan = undefined;
    const ahead = reason
      ? await preparedFor(now, { token, changes, control: controlKey(control), stopped })
      : undefined;
    const plan = reason ? (ahead?.plan ?? (await replan(now, control, stopped)).plan) : undefined;
    if (reason && !ahead) {
      planned += 1;
      deps.countPlan?.(reason);
    }
    const parts = plan ? runParts(plan) : [];
    const idleMs = Math.max(Math.ceil(s.leaseMs), 1_000);
    // The parts after the first, each in a transaction of its own, taken in turn by two lanes:
    // one starts at once, the other after the main transaction (which writes the first part).
    // Two backends share the work of many runs due together.
    const queued = parts.slice(1);
    const lane = async (): Promise<number> => {
      let n = 0;
      for (let part = queued.shift(); part; part = queued.shift()) {
        n += await deps.knex.transaction(async (trx) => {
          await trx.raw(`set local idle_in_transaction_session_timeout = ${idleMs}`);
          const written = await writeRuns(trx, part, plan!, ahead, token, now);
          if (!(await deps.leases.holds(trx, LEASE_NAME, s.replicaId, token, now))) {
            throw new LeaseLostError();
          }
          return written;
        });
      }
      return n;
    };
    const rest = lane();
    try {
      const main = deps.knex.transaction(async (trx) => {
        await trx.raw(`set local idle_in_transaction_session_timeout = ${idleMs}`);
        const cancelled =
          unschedulable.length > 0
            ? await deps.jobs.cancelQueued(trx, now, CANCEL_REASON, {
                platformIds: unschedulable,
                limit: CANCEL_BATCH,
              })
            : [];
        await deps.outbox.write(
          trx,
          cancelled.map((job) => cancelMessage(job, now, CANCEL_REASON)),
        );
        const collectCancelled = await cancelStoppedCollects(trx, collectStops, now);
        // Each cancellation above and below is one batch (CANCEL_BATCH) per tick: a stop
        // cancelled its first batch itself; the rest goes here, for as long as the stop holds
        // (after a restart too).
        let stopCancelled = 0;
        if (control.state === 'stopped') {
          // Under the switch's lock: a start that committed since the read above wins.
          const locked = await deps.control.lockForUpdate(trx);
          if (locked.state === 'stopped') {
            const why = stopCancelReason(locked.reason);
            const leftovers = await deps.jobs.cancelQueued(trx, now, why, {
              createdBefore: locked.changed_at,
              limit: CANCEL_BATCH,
            });
            await deps.outbox.write(
              trx,
              leftovers.map((job) => cancelMessage(job, now, why)),
            );
            stopCancelled = leftovers.length;
          }
        }
        let enqueued = 0;
        if (plan) {
          await deps.planChanges.consume(trx, changes);
          enqueued += await writeRuns(trx, parts[0]!, plan, ahead, token, now);
          await deps.schedules.deleteKeys(trx, plan.deletes);
          await deps.schedules.pauseMany(trx, plan.pauses);
          for (const p of plan.pauses) {
            await deps.control.audit(trx, now, {
              action: 'schedule.auto-pause',
              target: `schedule:${p.platform_id}/${p.resource}/${p.task_type}`,
              reason: p.reason,
            });
            const key = { platformId: p.platform_id, resource: p.resource, taskType: p.task_type };
            await deps.outbox.write(trx, [autoPausedMessage(key, p.reason, now)]);
            deps.logger.warn(
              {
                platformId: p.platform_id,
                resource: p.resource,
                taskType: p.task_type,
                reason: p.reason,
              },
              'schedule paused',
            );
          }
        }
        // Backfills run only while the scheduler runs, like schedules.
        if (running) {
          enqueued += await deps.backfills.topUp(trx, now, {
            replicaId: s.replicaId,
            fencingToken: token,
          });
        }
        await deps.control.update(trx, { last_tick_at: now });
        if (!(await deps.leases.holds(trx, LEASE_NAME, s.replicaId, token, now))) {
          throw new LeaseLostError();
        }
        return {
          leader: true,
          enqueued,
          cancelled: cancelled.length + collectCancelled + stopCancelled,
          wakeAt: (plan ? plan.wakeAt : lastPlan?.wakeAt) ?? undefined,
        };
      });
      const [written, others] = await Promise.allSettled([
        main.then(async (r) => ({ ...r, enqueued: r.enqueued + (await lane()) })),
        rest,
      ]);
      if (written.status === 'rejected') throw written.reason;
      if (others.status === 'rejected') throw others.reason;
      const result = { ...written.value, enqueued: written.value.enqueued + others.value };
      if (plan) lastPlan = { token, madeAt: now, wakeAt: plan.wakeAt };
      return result;
    } catch (err) {
      // What the failed tick planned is not written: the next one plans again.
      lastPlan = undefined;
      if (err instanceof LeaseLostError) return { leader: false, enqueued: 0, cancelled: 0 };
      throw err;
    }
  }

  return {
    tick,
    prepare,
    /** How early to prepare the plan of an instant: twice the last preparation, at least the setting. */
    prepareLeadMs: () => Math.max(s.planAheadMs, 2 * prepareMs),
  };
}
