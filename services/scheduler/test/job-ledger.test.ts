import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Job } from '@psc/contracts';
import {
  applyReport,
  applyReports,
  replayRun,
  type JobReport,
  type LedgerEntry,
} from '../src/domain/job-ledger.ts';

const JOB = 'c0ffee00-0000-4000-8000-000000000001';
const t = (s: number): string => new Date(Date.UTC(2026, 10, 22, 10, 0, s)).toISOString();
const boom = { message: 'platform answered HTTP 500', class: 'upstream_status' };
const stats = { fetched: 3, inserted: 3, updated: 0, unchanged: 0 };

function queued(run = 1): LedgerEntry {
  const job: Job = {
    id: JOB,
    platformId: 'c0ffee00-0000-4000-8000-0000000000aa',
    resource: 'booths',
    taskType: 'sync',
    status: 'queued',
    priority: 5,
    trigger: 'api',
    attempts: 0,
    run,
    params: {},
    stats: null,
    progress: null,
    error: null,
    nextAttemptAt: null,
    traceId: null,
    createdAt: t(0),
    startedAt: null,
    finishedAt: null,
    updatedAt: t(0),
  };
  return { job, position: { attempt: 0, phase: 0, at: null } };
}

const base = (run: number, attempt: number, s: number) => ({ jobId: JOB, run, attempt, at: t(s) });
const started = (run: number, attempt: number, s: number): JobReport => ({
  type: 'job.started',
  payload: { ...base(run, attempt, s), workerId: 'w1' },
});
const retrying = (run: number, attempt: number, s: number): JobReport => ({
  type: 'job.failed',
  payload: { ...base(run, attempt, s), error: boom, outcome: 'retrying', nextAttemptAt: t(s + 5) },
});
const waiting = (run: number, attempt: number, s: number): JobReport => ({
  type: 'job.waiting',
  payload: { ...base(run, attempt, s), reason: 'breaker open', nextAttemptAt: t(s + 30) },
});
const progressed = (run: number, attempt: number, s: number): JobReport => ({
  type: 'job.progressed',
  payload: { ...base(run, attempt, s), progress: { pages: 2, records: 20 } },
});
const ended = (
  run: number,
  attempt: number,
  s: number,
  outcome: 'succeeded' | 'failed' | 'dead' | 'cancelled',
): JobReport =>
  outcome === 'succeeded'
    ? { type: 'job.succeeded', payload: { ...base(run, attempt, s), stats } }
    : { type: 'job.failed', payload: { ...base(run, attempt, s), error: boom, outcome } };

const apply = (entry: LedgerEntry, ...reports: JobReport[]) =>
  reports.reduce((e, r) => applyReport(e, r) ?? e, entry);

describe('job ledger: one run', () => {
  it('when reports of one run arrive, then they apply in (attempt, time) order and never backwards', () => {
    const running2 = apply(queued(), started(1, 1, 1), retrying(1, 1, 2), started(1, 2, 3));
    assert.equal(running2.job.status, 'running');
    assert.equal(running2.job.attempts, 2);
    assert.equal(applyReport(running2, retrying(1, 1, 2)), undefined, 'an older attempt');
    assert.equal(applyReport(running2, started(1, 2, 3)), undefined, 'a duplicate');
    assert.equal(applyReport(running2, retrying(1, 2, 4))?.job.status, 'retrying');
    const dead = apply(running2, ended(1, 2, 5, 'dead'));
    assert.equal(dead.job.status, 'dead');
    assert.equal(dead.job.finishedAt, t(5));
    assert.equal(applyReport(dead, started(1, 3, 6)), undefined, 'an ended job never changes');
  });

  it('when a retry is due, then the job shows retrying with the error and when the next attempt starts', () => {
    const entry = apply(queued(), started(1, 1, 1), retrying(1, 1, 2));
    assert.equal(entry.job.status, 'retrying');
    assert.deepEqual(entry.job.error, boom);
    assert.equal(entry.job.nextAttemptAt, t(7));
  });

  it('when an attempt is held back by a breaker, then the job shows waiting until the same attempt starts again', () => {
    const held = apply(queued(), started(1, 1, 1), waiting(1, 1, 2));
    assert.equal(held.job.status, 'waiting');
    assert.equal(held.job.nextAttemptAt, t(32));
    assert.deepEqual(held.job.error, { class: 'deferred', message: 'breaker open' });
    const again = apply(held, started(1, 1, 33));
    assert.equal(again.job.status, 'running');
    assert.equal(again.job.nextAttemptAt, null);
    assert.equal(again.job.attempts, 1, 'a deferral uses no attempt');
  });

  it('when a short job reports only its outcome, or progress before any start, then the job still shows when it started', () => {
    const done = apply(queued(), {
      type: 'job.succeeded',
      payload: { ...base(1, 1, 9), stats, startedAt: t(8) },
    });
    assert.equal(done.job.status, 'succeeded');
    assert.equal(done.job.startedAt, t(8));
    const moving = apply(queued(), progressed(1, 1, 4));
    assert.equal(moving.job.status, 'running', 'progress means it started');
    assert.deepEqual(moving.job.progress, { pages: 2, records: 20 });
    assert.equal(moving.job.startedAt, t(4));
  });

  it('when a job that reported progress succeeds, then its progress is where it ended, not its last report; an outcome without one keeps the last report', () => {
    const done = apply(queued(), progressed(1, 1, 4), {
      type: 'job.succeeded',
      payload: {
        ...base(1, 1, 9),
        stats: { ...stats, fetched: 30 },
        progress: { pages: 3, records: 30 },
      },
    });
    assert.deepEqual(done.job.progress, { pages: 3, records: 30 });
    const older = apply(queued(), progressed(1, 1, 4), ended(1, 1, 9, 'succeeded'));
    assert.deepEqual(older.job.progress, { pages: 2, records: 20 });
  });

  it('when an outcome overtook the start, then the outcome stands', () => {
    const done = apply(queued(), ended(1, 1, 5, 'succeeded'), started(1, 1, 1));
    assert.equal(done.job.status, 'succeeded');
  });
});

describe('job ledger: replays', () => {
  it('when a dead job is replayed, then it is queued as the next run with a clean slate and the earlier run’s stragglers are ignored', () => {
    const dead = apply(queued(), started(1, 1, 1), ended(1, 1, 2, 'dead'));
    const replayed = replayRun(dead, new Date(t(10)));
    assert.equal(replayed.job.run, 2);
    assert.equal(replayed.job.status, 'queued');
    assert.equal(replayed.job.trigger, 'replay');
    assert.equal(replayed.job.attempts, 0);
    assert.equal(replayed.job.error, null);
    assert.equal(replayed.job.finishedAt, null);
    assert.equal(applyReport(replayed, ended(1, 4, 11, 'dead')), undefined);
    assert.equal(applyReport(replayed, started(1, 4, 12)), undefined);
    assert.equal(applyReport(replayed, started(2, 1, 13))?.job.status, 'running');
  });

  it('when any run’s reports arrive shuffled and duplicated around a replay, then the ledger ends with the last run’s outcome', () => {
    const runReports = (run: number, attempts: number, outcome: Parameters<typeof ended>[3]) => {
      const reports: JobReport[] = [];
      for (let a = 1; a <= attempts; a += 1) {
        const s = run * 100 + a * 3;
        reports.push(started(run, a, s), progressed(run, a, s + 1));
        reports.push(a < attempts ? retrying(run, a, s + 2) : ended(run, a, s + 2, outcome));
      }
      return reports;
    };
    const shuffle = <T>(items: T[], keys: number[]) =>
      items
        .map((item, i) => ({ item, k: (keys[i % keys.length] ?? 0) + i / 1_000 }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.item);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<Parameters<typeof ended>[3]>('succeeded', 'failed', 'dead', 'cancelled'),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (firstAttempts, outcome, attempts, order, duplicates) => {
          const first = runReports(1, firstAttempts, 'dead');
          let entry = queued();
          for (const r of shuffle(first, order)) entry = applyReport(entry, r) ?? entry;
          assert.equal(entry.job.status, 'dead');
          assert.equal(entry.job.attempts, firstAttempts);

          entry = replayRun(entry, new Date(t(99)));
          const second = runReports(2, attempts, outcome);
          const late = duplicates.map((d) => first[d % first.length]!);
          const extra = duplicates.map((d) => second[d % second.length]!);
          const changes = applyReports(
            new Map([[JOB, entry]]),
            shuffle([...second, ...late, ...extra], order),
          );
          const last = changes.get(JOB)!.entry;
          assert.equal(last.job.run, 2);
          assert.equal(last.job.status, outcome);
          assert.equal(last.job.attempts, attempts);
          assert.equal(changes.get(JOB)!.before, 'queued');
        },
      ),
      { numRuns: 500 },
    );
  });
});
