import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { JobStatus } from '@psc/contracts';
import {
  PHASE,
  judgeEvent,
  judgeRequeue,
  progressApplies,
  type LedgerEvent,
  type LedgerState,
} from '../src/domain/job-transitions.ts';

type Event = LedgerEvent & { correlationId: string };

const FIRST = 'c0ffee00-0000-4000-8000-000000000001';
const t = (s: number): Date => new Date(Date.UTC(2026, 10, 22, 10, 0, s));
const state = (overrides: Partial<LedgerState> = {}): LedgerState => ({
  status: 'queued',
  attempt: 0,
  phase: 0,
  runId: null,
  pastRuns: [],
  resetAt: null,
  ...overrides,
});
const started = (attempt: number, run = FIRST): Event => ({
  attempt,
  phase: PHASE.started,
  status: 'running',
  correlationId: run,
});
const retrying = (attempt: number, run = FIRST): Event => ({
  attempt,
  phase: PHASE.retrying,
  status: 'retrying',
  correlationId: run,
});
const finished = (attempt: number, status: JobStatus, run = FIRST): Event => ({
  attempt,
  phase: PHASE.finished,
  status,
  correlationId: run,
});

const dead = state({ status: 'dead', attempt: 4, phase: PHASE.finished });
/** Replayed as run `replay:a` at t(20), not yet started. */
const requeued = state({ runId: 'replay:a', resetAt: t(20) });

describe('job ledger transitions: judgeEvent', () => {
  it('when events of one run arrive, then they apply in (attempt, phase) order and never backwards', () => {
    const running2 = state({ status: 'running', attempt: 2, phase: PHASE.started });
    assert.equal(judgeEvent(running2, retrying(2)), 'apply');
    assert.equal(judgeEvent(running2, started(3)), 'apply');
    assert.equal(judgeEvent(running2, retrying(1)), 'ignore');
    assert.equal(judgeEvent(running2, started(2)), 'ignore');
    assert.equal(judgeEvent(running2, finished(1, 'succeeded')), 'apply');
    assert.equal(judgeEvent(dead, finished(4, 'dead')), 'ignore');
  });

  it('when a job was requeued, then redelivered events of the old run are ignored and the new run applies from attempt 1', () => {
    assert.equal(judgeEvent(requeued, finished(4, 'dead')), 'ignore');
    assert.equal(judgeEvent(requeued, started(4)), 'ignore');
    assert.equal(judgeEvent(requeued, retrying(3)), 'ignore');
    assert.equal(judgeEvent(requeued, started(1, 'replay:a')), 'apply');
    assert.equal(judgeEvent(requeued, finished(1, 'succeeded', 'replay:a')), 'apply');
    const second = state({ runId: 'replay:b', pastRuns: ['replay:a'], resetAt: t(40) });
    assert.equal(judgeEvent(second, finished(2, 'dead', 'replay:a')), 'ignore');
  });

  it('when a replayed run reports before its requeue arrived, then its events wait, whatever the job state', () => {
    assert.equal(judgeEvent(dead, started(1, 'replay:a')), 'wait');
    assert.equal(judgeEvent(dead, finished(1, 'succeeded', 'replay:a')), 'wait');
    const oldRunStillRetrying = state({ status: 'retrying', attempt: 3, phase: PHASE.retrying });
    assert.equal(judgeEvent(oldRunStillRetrying, started(4, 'replay:a')), 'wait');
    assert.equal(judgeEvent(requeued, started(1, 'replay:b')), 'wait');
  });
});

describe('job ledger transitions: judgeRequeue and progressApplies', () => {
  it('when a dead job is requeued, then it resets; the same requeue again is ignored; an older one is retired', () => {
    assert.equal(judgeRequeue(dead, { runId: 'replay:a', at: t(20) }), 'reset');
    assert.equal(judgeRequeue(requeued, { runId: 'replay:a', at: t(20) }), 'ignore');
    assert.equal(judgeRequeue(requeued, { runId: 'replay:b', at: t(40) }), 'reset');
    assert.equal(judgeRequeue(requeued, { runId: 'replay:z', at: t(10) }), 'retire');
  });

  it('when progress arrives, then only the current run’s progress of an open job shows', () => {
    const running = state({ status: 'running', attempt: 1, phase: PHASE.started });
    assert.equal(progressApplies(running, { attempt: 1, correlationId: FIRST }), true);
    assert.equal(
      progressApplies({ ...running, attempt: 2 }, { attempt: 1, correlationId: FIRST }),
      false,
    );
    assert.equal(progressApplies(dead, { attempt: 4, correlationId: FIRST }), false);
    assert.equal(progressApplies(requeued, { attempt: 4, correlationId: FIRST }), false);
    assert.equal(progressApplies(requeued, { attempt: 1, correlationId: 'replay:a' }), true);
  });
});

type Delivery = { kind: 'requeue'; runId: string; at: Date } | { kind: 'event'; event: Event };

/** The ledger row as the repository updates it, to deliver messages in any order. */
function deliver(current: LedgerState, message: Delivery): { next: LedgerState; wait: boolean } {
  if (message.kind === 'requeue') {
    const verdict = judgeRequeue(current, message);
    if (verdict === 'ignore') return { next: current, wait: false };
    if (verdict === 'retire') {
      return { next: { ...current, pastRuns: [...current.pastRuns, message.runId] }, wait: false };
    }
    const pastRuns = current.runId ? [...current.pastRuns, current.runId] : current.pastRuns;
    return {
      next: state({ runId: message.runId, pastRuns, resetAt: message.at }),
      wait: false,
    };
  }
  const { event } = message;
  const verdict = judgeEvent(current, event);
  if (verdict !== 'apply') return { next: current, wait: verdict === 'wait' };
  return {
    next: { ...current, status: event.status, attempt: event.attempt, phase: event.phase },
    wait: false,
  };
}

/** A run's events: `attempts` tries, the last one ending `outcome`. */
function runEvents(run: string, attempts: number, outcome: JobStatus): Delivery[] {
  const events: Event[] = [];
  for (let a = 1; a <= attempts; a += 1) {
    events.push(started(a, run));
    events.push(a < attempts ? retrying(a, run) : finished(a, outcome, run));
  }
  return events.map((event) => ({ kind: 'event', event }));
}

describe('job ledger transitions: replays under any delivery order', () => {
  it('when a dead run, a replay that dies again and a second replay arrive shuffled and duplicated, then the ledger ends with the last run’s outcome', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<JobStatus>('succeeded', 'dead', 'failed', 'cancelled'),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (outcome, attempts, order, duplicates) => {
          const all: Delivery[] = [
            ...runEvents(FIRST, 4, 'dead'),
            { kind: 'requeue', runId: 'replay:a', at: t(20) },
            ...runEvents('replay:a', 2, 'failed'),
            { kind: 'requeue', runId: 'replay:b', at: t(40) },
            ...runEvents('replay:b', attempts, outcome),
          ];
          for (const d of duplicates) all.push(all[d % all.length]!);
          // A random permutation (decorate-sort); a message told to wait goes to the back.
          const queue = all
            .map((m, i) => ({ m, k: order[i % order.length]! + i / 1_000 }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.m);
          let ledger = state();
          for (let steps = 0; queue.length > 0; steps += 1) {
            assert.ok(steps < 10_000, 'delivery ends');
            const message = queue.shift()!;
            const { next, wait } = deliver(ledger, message);
            ledger = next;
            if (wait) queue.push(message);
          }
          assert.equal(ledger.status, outcome);
          assert.equal(ledger.runId, 'replay:b');
          assert.equal(ledger.attempt, attempts);
        },
      ),
      { numRuns: 500 },
    );
  });
});
