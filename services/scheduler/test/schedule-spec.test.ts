import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '@psc/core';
import {
  applySpec,
  assertValidSpec,
  defaultSpec,
  dueRuns,
  nextFireTimes,
  type EffectiveSpec,
} from '../src/domain/schedule-spec.ts';

const cron = (expression: string, timezone = 'Europe/Berlin'): EffectiveSpec =>
  applySpec(defaultSpec('sync'), { enabled: true, cron: expression, timezone });

/** Drives a schedule with an injected clock, one tick per `stepMs`, as the leader would. */
function simulate(spec: EffectiveSpec, from: Date, to: Date, stepMs: number): Date[] {
  const emitted: Date[] = [];
  let next = nextFireTimes(spec, new Date(from.getTime() - 1), 1)[0]!;
  for (let t = from.getTime(); t <= to.getTime(); t += stepMs) {
    const now = new Date(t);
    if (next > now) continue;
    const due = dueRuns(spec, next, now, new Date(t - 5 * stepMs));
    emitted.push(...due.runs);
    next = due.next;
  }
  return emitted;
}

const berlinDay = (d: Date): string => d.toLocaleDateString('en-CA', { timeZone: 'Europe/Berlin' });

describe('schedule timing', () => {
  for (const [name, from, to] of [
    ['spring forward (2026-03-29)', '2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z'],
    ['fall back (2026-10-25)', '2026-10-23T12:00:00Z', '2026-10-27T12:00:00Z'],
  ] as const) {
    it(`when a daily 02:30 Europe/Berlin cron crosses the ${name}, then it runs exactly once each day`, () => {
      const runs = simulate(cron('30 2 * * *'), new Date(from), new Date(to), 60_000);
      const days = runs.map(berlinDay);
      assert.deepEqual(days, [...new Set(days)], 'no day twice');
      assert.equal(days.length, 4);
    });
  }

  it('when */15 crosses the fall-back hour, then it runs exactly four times per real hour', () => {
    const from = new Date('2026-10-24T22:00:00Z');
    const runs = simulate(cron('*/15 * * * *'), from, new Date('2026-10-25T03:59:59Z'), 60_000);
    const perHour = new Map<number, number>();
    for (const r of runs) perHour.set(r.getUTCHours(), (perHour.get(r.getUTCHours()) ?? 0) + 1);
    assert.deepEqual([...perHour.values()], [4, 4, 4, 4, 4, 4]);
    assert.equal(new Set(runs.map((r) => r.getTime())).size, runs.length);
  });

  it('when */15 crosses the spring-forward hour, then it runs exactly four times per real hour', () => {
    const runs = simulate(
      cron('*/15 * * * *'),
      new Date('2026-03-28T23:00:00Z'),
      new Date('2026-03-29T02:59:59Z'),
      60_000,
    );
    const perHour = new Map<number, number>();
    for (const r of runs) perHour.set(r.getUTCHours(), (perHour.get(r.getUTCHours()) ?? 0) + 1);
    assert.deepEqual([...perHour.values()], [4, 4, 4, 4]);
  });

  it('when runs were missed for longer than the grace, then run_once yields one run and skip none', () => {
    const every = applySpec(defaultSpec('sync'), { enabled: true, intervalSeconds: 1 });
    const start = new Date('2026-01-01T00:00:00Z');
    const now = new Date('2026-01-01T00:01:00Z');
    const graceStart = new Date(now.getTime() - 3_000);
    const once = dueRuns(every, start, now, graceStart);
    // one catch-up for the missed minute plus the on-time runs inside the grace window
    assert.equal(once.runs.length, 1 + 4);
    assert.equal(once.runs[0]!.toISOString(), '2026-01-01T00:00:56.000Z');
    const skipped = dueRuns({ ...every, misfire: 'skip' }, start, now, graceStart);
    assert.equal(skipped.runs.length, 4);
    assert.equal(once.next.toISOString(), '2026-01-01T00:01:01.000Z');
  });

  it('when interval schedules are computed on two replicas, then they agree on the grid', () => {
    const every = applySpec(defaultSpec('sync'), { enabled: true, intervalSeconds: 300 });
    const a = nextFireTimes(every, new Date('2026-01-01T00:01:02Z'), 2);
    const b = nextFireTimes(every, new Date('2026-01-01T00:04:59Z'), 2);
    assert.deepEqual(a, b);
    assert.equal(a[0]!.toISOString(), '2026-01-01T00:05:00.000Z');
  });
});

describe('schedule validation', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const rejects = (spec: Parameters<typeof assertValidSpec>[0], field: string) => {
    assert.throws(
      () => assertValidSpec(spec, 'body', now),
      (err: unknown) =>
        err instanceof ValidationError &&
        (err.details as { path: string }[]).some((d) => d.path === field),
    );
  };

  it('when a cron never fires (30 February), then it is rejected naming cron', () => {
    rejects({ cron: '0 0 30 2 *' }, 'body.cron');
  });

  it('when the timezone is unknown, then it is rejected naming timezone', () => {
    rejects({ cron: '0 * * * *', timezone: 'Mars/Olympus' }, 'body.timezone');
  });

  it('when the cron is malformed or hostile, then it is rejected instead of hanging', () => {
    rejects({ cron: 'not a cron at all' }, 'body.cron');
    rejects({ cron: '* * * * * * *' }, 'body.cron');
    rejects({ cron: `${'1,'.repeat(90)}1 * * * *` }, 'body.cron');
    rejects({ cron: '*/0 * * * *' }, 'body.cron');
    rejects({ cron: '0 0 31 2,4,6,9,11 *' }, 'body.cron');
  });

  it('when a valid 5- or 6-field cron with a timezone is given, then it is accepted', () => {
    assertValidSpec({ cron: '30 2 * * *', timezone: 'Europe/Berlin' }, 'body', now);
    assertValidSpec({ cron: '*/10 * * * * *' }, 'body', now);
  });
});
