import type { Knex } from 'knex';
import type { Logger } from 'pino';
import {
  jobOutcomes,
  type jobRun,
  type JobError,
  type JobRun,
  type JobStats,
  type PlatformCaller,
  type QueueSpec,
  type TaskType,
} from '@psc/contracts';
import { AppError, NonRetryableError, type Clock } from '@psc/core';
import { preparedByText, runPrepared, transactionWith } from '@psc/db';
import { JOB_OUTCOME_FIELD } from '@psc/telemetry';
import {
  createConsumer,
  DeferError,
  rpcHandler,
  type Broker,
  type Consumer,
  type Emit,
  type FailureDecision,
  type MessageOf,
  type Outbox,
  type OutboxMessage,
  type Publisher,
  type RpcHandler,
} from '@psc/messaging';
import { createCancelWatch } from './cancel-watch.ts';
import { createJobRunRepository, type JobRunRepository } from './job-runs.ts';
import { jobErrorOf, jobEvents, type RunRef } from './job-events.ts';
import { createSuspectGate } from './suspect-gate.ts';
import type { JobSlots } from './worker-config.ts';

/** How a run ends, as its handler commits it. */
export type JobOutcome =
  | {
      kind: 'succeeded';
      stats: JobStats;
      /** Where a run that reported progress ended (its last report stops short of the end). */
      progress?: { pages: number; records: number };
    }
  /** Could never succeed as it is (e.g. some fan-out children failed): into the DLQ. */
  | { kind: 'failed'; error: JobError }
  /** Not finished yet: another message ends it (see {@link JobRunner.finishElsewhere}). */
  | { kind: 'continues' };

export interface RunContext {
  readonly job: JobRun;
  readonly attempt: number;
  /** The correlation id the run's `job.run` carried: messages the run causes carry it on. */
  readonly correlationId: string;
  /** When the ledger wrote the run's `job.run` (its envelope's time). */
  readonly queuedAt: Date;
  /** Aborts at the job's hard timeout. */
  readonly signal: AbortSignal;
  /**
   * The run's key, the same on every delivery of it: what its first platform request is
   * deferred as (a turn booked under it at a rate-limited platform).
   */
  readonly runKey: string;
  readonly logger: Logger;
  /** Reports how far the run has got (at most every `progressIntervalMs`); stops a cancelled run. */
  progress(done: { pages: number; records: number }): Promise<void>;
  /** Throws {@link CancelledError} when the run was cancelled. */
  throwIfCancelled(): Promise<void>;
  /**
   * Commits the run: `work`'s effects, the run's record (which makes a second delivery of the
   * same run a no-op) and its outcome event, in one transaction. A run cancelled meanwhile
   * rolls back here. Call it once.
   *
   * `idleMs` bounds how long the transaction may sit idle between two statements (while `work`
   * waits for a platform): PostgreSQL ends it after that, so a worker frozen mid-job cannot hold
   * its row locks for longer. Give it the longest wait `work` can have between statements.
   */
  commit(
    work: (trx: Knex.Transaction, emit: Emit) => Promise<JobOutcome>,
    bounds?: { idleMs?: number },
  ): Promise<void>;
  /**
   * Commits a run whose effects fit one statement as one autocommitted statement: `effects`,
   * the run's record and its `job.succeeded` carrying `effects.stats` (counted by the statement
   * itself). No transaction, so three round trips fewer than {@link commit} (BEGIN, the claim,
   * COMMIT): most jobs are one page. A second delivery of the run, or a cancelled run, fails
   * the whole statement, so nothing of it stays. Call it (or `commit`) once.
   */
  commitStatement(effects: StatementEffects): Promise<void>;
}

/** A run's effects as CTEs of the statement that commits it (see {@link RunContext.commitStatement}). */
export interface StatementEffects {
  /** `name as (…)` CTEs, comma-separated, with `?` placeholders, writing the run's effects. */
  ctes: string;
  bindings: Knex.RawBinding[];
  /** A jsonb expression over those CTEs: the run's {@link JobStats}. */
  stats: string;
}

export type JobHandler = (ctx: RunContext) => Promise<void>;

/** The run was cancelled (by the scheduler, or by the worker's own rule): never retried. */
export class CancelledError extends NonRetryableError {
  override name = 'CancelledError';
  constructor(code = 'cancelled', message = 'job was cancelled') {
    super(code, message);
  }
}

/** Another delivery of the same run has committed already. */
class DuplicateRunError extends Error {
  override name = 'DuplicateRunError';
}

export interface JobRunnerOptions {
  broker: Broker;
  /** A job queue of the topology table (it accepts `job.run`). */
  queue: QueueSpec & { accepts: readonly [typeof jobRun] };
  knex: Knex;
  /** The worker service's schema, with the runner's tables (createJobRunnerTables). */
  schema: string;
  outbox: Outbox;
  publisher: Publisher;
  logger: Logger;
  clock: Clock;
  workerId: string;
  handlers: Partial<Record<TaskType, JobHandler>>;
  /** Jobs run at once, deliveries held (running or next in line), and for how long: see worker-config.ts. */
  slots: JobSlots;
  maxAttempts: number;
  retryTiersMs: readonly number[];
  /**
   * Hard limit per attempt, below RabbitMQ's consumer timeout, counted from the delivery: a
   * job that waited for a slot has that much less, so no delivery is held longer.
   */
  jobTimeoutMs: number;
  /** `job.started` is sent only for attempts still running after this long. */
  startedNoticeMs: number;
  progressIntervalMs?: number;
  /** Database errors that hold a job instead of spending an attempt. */
  isTransient: (err: unknown) => boolean;
  /** A run whose delivery came back this many times without an outcome is given up. */
  crashLoopLimit: number;
  /** Told when an attempt starts and ends (`@psc/telemetry` createJobMetrics). */
  metrics?: {
    attemptStarted(taskType: TaskType): void;
    /** `seconds` is undefined for a deferral by an open breaker: no attempt was made. */
    attemptEnded(taskType: TaskType, seconds: number | undefined): void;
  };
}

export interface JobRunner {
  start(): Promise<void>;
  /** Finishes the runs in flight (they ack after their commit), then stops consuming. */
  stop(): Promise<void>;
  /** Ids of the jobs running now (heartbeats). */
  active(): string[];
  /**
   * Lifecycle events of the job consumer (`acked`, `retried`, `deferred`, `dead-lettered`,
   * `handed-back`).
   */
  consumer: Consumer;
  runs: JobRunRepository;
  /**
   * Whether this replica knows the run was cancelled (see cancel-watch.ts); undefined while its
   * watch is not live.
   */
  knowsCancelled: (jobId: string, run: number) => boolean | undefined;
  /** `job.outcomes` of this worker service: what it recorded of runs the ledger asks about. */
  outcomesRpcHandler(service: PlatformCaller): RpcHandler;
  /**
   * Ends a run that `continues` (a fan-out) from another message's transaction: records it and
   * emits its outcome event with that transaction.
   */
  finishElsewhere(
    trx: Knex.Transaction,
    emit: Emit,
    ref: RunRef,
    outcome: Exclude<JobOutcome, { kind: 'continues' }>,
    startedAt: Date,
  ): Promise<void>;
}

/** The least idle time allowed inside a job's transaction. */
const DEFAULT_IDLE_MS = 10_000;

function timeoutError(ms: number): AppError {
  return new AppError('job_timeout', 504, `job did not finish within ${ms} ms`, {
    retryable: true,
  });
}

/** A run's key (`RunContext.runKey`): its fan-out children's keys are this and `/<index>`. */
export const runKey = (jobId: string, run: number): string => `${jobId}/${run}`;

/**
 * The one job lifecycle of every worker: takes `job.run` from its queue, skips a run that was
 * already done, reports it to the ledger (started only when it takes a while, progress, the
 * outcome with its effects in one transaction, every failure with what happens next), stops it
 * at its hard timeout or when cancelled, and retries, defers or gives it up through the consumer.
 * A given-up job is not dead-lettered on the broker: its `job.failed` puts it into the ledger's
 * dead-letter queue, from which the ledger replays it.
 */
export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const runs = createJobRunRepository(options.knex, options.schema);
  const watch = createCancelWatch({
    knex: options.knex,
    schema: options.schema,
    logger: options.logger,
  });
  const active = new Set<string>();
  const startedAtOf = new WeakMap<object, Date>();
  const progressEvery = options.progressIntervalMs ?? 250;
  const gate = createSuspectGate();
  const now = () => options.clock.now();
  /** One prepared statement per distinct text (the effects' CTEs differ by task). */
  const commitStatementOf = preparedByText(`${options.schema}.job_runs.commit-one`);

  // Events that change no state of the worker's own go straight to the broker (confirmed);
  // a failed publish fails the delivery, which is then tried again.
  const send = (message: ReturnType<(typeof jobEvents)['started']>) =>
    options.publisher.publish(message.exchange, message.routingKey, message.envelope);

  const outcomeEvent = (
    ref: RunRef,
    outcome: Exclude<JobOutcome, { kind: 'continues' }>,
    startedAt: Date,
  ) =>
    outcome.kind === 'succeeded'
      ? jobEvents.succeeded(ref, now(), startedAt, outcome.stats, outcome.progress)
      : jobEvents.failed(ref, now(), { error: outcome.error, outcome: 'failed', startedAt });

  async function run(
    message: MessageOf<typeof jobRun>,
    attempt: number,
    redelivered: boolean,
    receivedAt: number,
    log: Logger,
  ) {
    const job = message.payload;
    const ref: RunRef = { job, attempt, correlationId: message.correlationId };
    const startedAt = now();
    startedAtOf.set(message, startedAt);
    if (redelivered) {
      // The broker gave this delivery to a worker before and got no answer: that worker died
      // or lost its connection holding it. A run that keeps doing that must not loop forever.
      // It runs alone (see suspect-gate.ts), so the crash counted here is its own.
      const crashes = await runs.countCrash(job.jobId, job.run, startedAt);
      if (crashes >= options.crashLoopLimit) {
        log.error({ jobId: job.jobId, run: job.run, crashes }, 'job given up: crash loop');
        await send(
          jobEvents.failed(ref, now(), {
            error: {
              class: 'crash_loop',
              message: `the job's delivery came back ${crashes} times without an outcome (the worker died holding it)`,
            },
            outcome: 'dead',
            startedAt,
          }),
        );
        return;
      }
    }
    const handler = options.handlers[job.taskType];
    if (!handler) {
      throw new NonRetryableError(
        'unsupported_task',
        `${job.taskType} is not a task of this worker`,
      );
    }
    // A timer cleared when the run ends, not AbortSignal.timeout: that one would stay armed for
    // the whole timeout (15 minutes by default) after every run, keeping the run's signals and
    // whatever listens to them alive until then.
    const deadline = new AbortController();
    // From the delivery, not from here: the time it waited for a slot counts, so the worker
    // never holds a delivery past the hard timeout (and RabbitMQ's consumer timeout above it).
    const deadlineTimer = setTimeout(
      () => deadline.abort(timeoutError(options.jobTimeoutMs)),
      Math.max(0, options.jobTimeoutMs - (performance.now() - receivedAt)),
    );
    deadlineTimer.unref();
    const signal = deadline.signal;
    let committed = false;
    let ended: JobOutcome | undefined;
    let lastProgress = 0;
    const throwIfCancelled = async () => {
      const known = watch.cancelled(job.jobId, job.run);
      if (known ?? (await runs.isCancelled(job.jobId, job.run))) throw new CancelledError();
    };
    const ctx: RunContext = {
      job,
      attempt,
      correlationId: message.correlationId,
      queuedAt: new Date(message.occurredAt),
      signal,
      runKey: runKey(job.jobId, job.run),
      logger: log,
      throwIfCancelled,
      async progress(done) {
        if (signal.aborted) throw timeoutError(options.jobTimeoutMs);
        await throwIfCancelled();
        const at = now();
        if (at.getTime() - lastProgress < progressEvery) return;
        lastProgress = at.getTime();
        await send(jobEvents.progressed(ref, at, done));
      },
      async commit(work, bounds = {}) {
        if (committed) throw new Error('a run commits once');
        const idleMs = Math.max(Math.ceil(bounds.idleMs ?? 0), DEFAULT_IDLE_MS);
        // The bound goes with BEGIN in one round trip (no bind parameter: a plain integer). The
        // lock wait is bounded per connection (the worker's lock_timeout).
        const preamble = `set local idle_in_transaction_session_timeout = ${idleMs}`;
        await transactionWith(options.knex, preamble, async (trx) => {
          const messages: OutboxMessage[] = [];
          const outcome = await work(trx, (m) => messages.push(m));
          if (outcome.kind !== 'continues') messages.push(outcomeEvent(ref, outcome, startedAt));
          // The run's record and every message it sends go in one statement: a refused claim
          // rolls them all back.
          const claim = await runs.claim(
            trx,
            {
              jobId: job.jobId,
              run: job.run,
              attempt,
              status: outcome.kind,
              stats: outcome.kind === 'succeeded' ? outcome.stats : null,
              at: now(),
            },
            options.outbox.along(trx, messages),
          );
          if (claim === 'duplicate') throw new DuplicateRunError();
          if (claim === 'cancelled') throw new CancelledError();
          ended = outcome;
        });
        committed = true;
      },
      async commitStatement(effects) {
        if (committed) throw new Error('a run commits once');
        // Stats the statement counts: the stored row gets them in SQL, the envelope the relay
        // publishes from memory gets them from the statement's answer.
        const message = outcomeEvent(
          ref,
          { kind: 'succeeded', stats: { fetched: 0, inserted: 0, updated: 0, unchanged: 0 } },
          startedAt,
        );
        const payload = message.envelope.payload as { stats: JobStats };
        const claim = runs.claimCte(
          { jobId: job.jobId, run: job.run, attempt, status: 'succeeded', at: now() },
          effects.stats,
        );
        try {
          await options.outbox.emit(
            [message],
            async (part) => {
              const [row] = await runPrepared<{ stats: JobStats; outbox_seqs: string[] }>(
                options.knex,
                commitStatementOf(
                  `with ${effects.ctes}, ${claim.text}, ${part.cte}
                   select (select stats from claimed) as stats, ${part.seqs} as outbox_seqs`,
                ),
                [...effects.bindings, ...claim.bindings, ...part.bindings],
              );
              payload.stats = row!.stats;
              ended = { kind: 'succeeded', stats: row!.stats };
              return row!.outbox_seqs;
            },
            { index: 0, path: ['payload', 'stats'], sql: '(select stats from claimed)' },
          );
        } catch (err) {
          const refused = runs.refusal(err);
          if (refused === 'duplicate') throw new DuplicateRunError();
          if (refused === 'cancelled') throw new CancelledError();
          throw err;
        }
        committed = true;
      },
    };
    const notice = setTimeout(() => {
      send(jobEvents.started(ref, now(), options.workerId)).catch((err: unknown) =>
        log.debug({ err: String(err) }, 'started notice not sent'),
      );
    }, options.startedNoticeMs);
    active.add(job.jobId);
    options.metrics?.attemptStarted(job.taskType);
    let deferred = false;
    try {
      // Cancelled while it waited in the queue: refused before it calls its platform.
      if (watch.cancelled(job.jobId, job.run)) throw new CancelledError();
      await handler(ctx);
      if (!committed) throw new Error(`the ${job.taskType} handler returned without committing`);
    } catch (err) {
      deferred = err instanceof DeferError;
      if (err instanceof DuplicateRunError) {
        log.info({ jobId: job.jobId, run: job.run }, 'run already done; duplicate acked');
        return;
      }
      if (err instanceof CancelledError) {
        await send(
          jobEvents.failed(ref, now(), { error: jobErrorOf(err), outcome: 'cancelled', startedAt }),
        );
        return;
      }
      if (signal.aborted && !(err instanceof AppError)) throw timeoutError(options.jobTimeoutMs);
      throw err;
    } finally {
      clearTimeout(deadlineTimer);
      clearTimeout(notice);
      active.delete(job.jobId);
      const seconds = (now().getTime() - startedAt.getTime()) / 1000;
      options.metrics?.attemptEnded(job.taskType, deferred ? undefined : seconds);
      // The job's own line (jobId, platformId, traceId bound above): GET /api/v1/logs?jobId=….
      // A success is logged only here (the collector does not log job.succeeded events), so
      // the line is marked as the attempt's outcome: the shipper never rate-limits it away.
      if (committed && ended?.kind === 'succeeded') {
        log.info(
          { attempt, seconds, run: job.run, stats: ended.stats, [JOB_OUTCOME_FIELD]: true },
          'job succeeded',
        );
      } else {
        log.info(
          { attempt, seconds, run: job.run, [JOB_OUTCOME_FIELD]: true },
          deferred
            ? 'job attempt deferred'
            : committed && ended?.kind === 'failed'
              ? 'job failed'
              : 'job attempt ended',
        );
      }
    }
  }

  async function reportFailure(
    message: MessageOf<typeof jobRun>,
    err: unknown,
    decision: FailureDecision,
    attempt: number,
  ): Promise<void> {
    const ref: RunRef = { job: message.payload, attempt, correlationId: message.correlationId };
    const at = now();
    const startedAt = startedAtOf.get(message) ?? at;
    if (decision.kind === 'defer') {
      const reason = err instanceof AppError ? err.message : 'deferred';
      await send(jobEvents.waiting(ref, at, reason, decision.nextAttemptAt));
      return;
    }
    await send(
      jobEvents.failed(ref, at, {
        error: jobErrorOf(err),
        outcome: decision.kind === 'retry' ? 'retrying' : decision.retryable ? 'dead' : 'failed',
        startedAt,
        ...(decision.kind === 'retry' ? { nextAttemptAt: decision.nextAttemptAt } : {}),
      }),
    );
  }

  const consumer = createConsumer({
    broker: options.broker,
    queue: options.queue,
    logger: options.logger,
    prefetch: options.slots.prefetch,
    concurrency: options.slots.concurrency,
    handBackAfterMs: options.slots.handBackAfterMs,
    maxAttempts: options.maxAttempts,
    retryTiersMs: options.retryTiersMs,
    isTransient: options.isTransient,
    givenUpTo: 'hook',
    now,
    // The job's own lines carry its ids, so they reach GET /api/v1/logs?jobId=… (log shipping).
    handler: (message, ctx) => {
      const logger = ctx.logger.child({
        jobId: message.payload.jobId,
        platformId: message.payload.platformId,
        ...(message.payload.traceId ? { traceId: message.payload.traceId } : {}),
      });
      return ctx.redelivered
        ? gate.alone(() => run(message, ctx.attempt, true, ctx.receivedAt, logger))
        : gate.ordinary(() => run(message, ctx.attempt, false, ctx.receivedAt, logger));
    },
    onFailure: (message, err, decision, ctx) => reportFailure(message, err, decision, ctx.attempt),
    // A delivery lost with its channel comes back marked redelivered: not a crash of this run.
    onDeliveryLost: ({ payload: { jobId, run } }) => {
      runs
        .release(jobId, run, now())
        .catch((err: unknown) =>
          options.logger.warn(
            { jobId, run, err: err instanceof Error ? err.message : String(err) },
            'lost delivery not recorded; its return counts as a crash',
          ),
        );
    },
  });

  return {
    async start() {
      await watch.start();
      await consumer.start();
    },
    async stop() {
      await consumer.stop();
      await watch.stop();
    },
    active: () => [...active],
    consumer,
    runs,
    knowsCancelled: (jobId, run) => watch.cancelled(jobId, run),
    outcomesRpcHandler: (service) =>
      rpcHandler(jobOutcomes[service], async (request) => ({
        items: (await runs.outcomes(request.runs)).map((r) => ({
          ...r,
          at: r.at.toISOString(),
        })),
      })),
    async finishElsewhere(trx, emit, ref, outcome, startedAt) {
      await runs.finish(trx, {
        jobId: ref.job.jobId,
        run: ref.job.run,
        attempt: ref.attempt,
        status: outcome.kind,
        stats: outcome.kind === 'succeeded' ? outcome.stats : null,
        at: now(),
      });
      emit(outcomeEvent(ref, outcome, startedAt));
    },
  };
}
