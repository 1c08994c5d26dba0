import { Cron } from 'croner';
import type { ScheduleOverrides, ScheduleSpec, TaskType } from '@psc/contracts';
import { ValidationError } from '@psc/core';
import { checkParamsTemplate } from './params-template.ts';

/** A schedule with every field decided: task config ← platform ← resource. */
export interface EffectiveSpec {
  enabled: boolean;
  intervalSeconds: number | null;
  cron: string | null;
  timezone: string;
  priority: number | null;
  jitterSeconds: number;
  overlap: 'skip' | 'enqueue';
  misfire: 'run_once' | 'skip';
  autoPauseAfterFailures: number | null;
  /** Params template of each run (params-template.ts); null: `{}`. */
  params: Record<string, unknown> | null;
}

const INTERVAL_DEFAULTS: Record<TaskType, number> = {
  sync: 3_600,
  validate: 86_400,
  collect: 86_400,
};

/** Task types are off until an operator (or a platform's own schedule) turns them on. */
export function defaultSpec(taskType: TaskType): EffectiveSpec {
  return {
    enabled: false,
    intervalSeconds: INTERVAL_DEFAULTS[taskType],
    cron: null,
    timezone: 'UTC',
    priority: null,
    jitterSeconds: 0,
    overlap: 'skip',
    misfire: 'run_once',
    autoPauseAfterFailures: null,
    params: null,
  };
}

/** Applies a partial spec on top of `base`; naming `cron` drops the interval and vice versa. */
export function applySpec(base: EffectiveSpec, spec: ScheduleSpec | undefined): EffectiveSpec {
  if (!spec) return base;
  const out = { ...base };
  if (spec.cron !== undefined) {
    out.cron = spec.cron;
    out.intervalSeconds = null;
  }
  if (spec.intervalSeconds !== undefined) {
    out.intervalSeconds = spec.intervalSeconds;
    out.cron = null;
  }
  if (spec.enabled !== undefined) out.enabled = spec.enabled;
  if (spec.timezone !== undefined) out.timezone = spec.timezone;
  if (spec.priority !== undefined) out.priority = spec.priority;
  if (spec.jitterSeconds !== undefined) out.jitterSeconds = spec.jitterSeconds;
  if (spec.overlap !== undefined) out.overlap = spec.overlap;
  if (spec.misfire !== undefined) out.misfire = spec.misfire;
  if (spec.autoPauseAfterFailures !== undefined)
    out.autoPauseAfterFailures = spec.autoPauseAfterFailures;
  if (spec.params !== undefined) out.params = spec.params;
  return out;
}

export function effectiveSpec(
  taskType: TaskType,
  taskSpec: EffectiveSpec,
  platform: ScheduleOverrides | undefined | null,
  resource: ScheduleOverrides | undefined | null,
): EffectiveSpec {
  return applySpec(applySpec(taskSpec, platform?.[taskType]), resource?.[taskType]);
}

/** What the timing depends on: when it changes, the schedule restarts from now. */
export const specKey = (s: EffectiveSpec): string =>
  s.cron !== null ? `cron:${s.timezone}:${s.cron}` : `every:${s.intervalSeconds ?? 0}`;

const MAX_CRON_LENGTH = 120;

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parsed crons by timezone and expression: most schedules share a few, and a tick asks each. */
const crons = new Map<string, Cron>();
/** Parsed crons kept at most; past it the map starts again (a deployment uses a handful). */
const MAX_CRONS = 1_000;

function cronOf(expression: string, timezone: string): Cron {
  const key = `${timezone}\n${expression}`;
  let cron = crons.get(key);
  if (!cron) {
    // croner bounds its own search for the next match, so a never-matching pattern returns null
    // instead of looping; the length bound keeps parsing cheap for hostile strings. Paused, the
    // object holds only the parsed pattern: its lookups take their start time as an argument.
    cron = new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
    if (crons.size >= MAX_CRONS) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}

/**
 * Rejects what the shape check cannot see: a cron croner cannot parse or that never fires, an
 * unknown timezone. Each problem names its field (`<prefix>.cron`).
 */
export function assertValidSpec(spec: ScheduleSpec, prefix: string, now: Date): void {
  const issues: { path: string; message: string }[] = [];
  if (spec.cron !== undefined && spec.intervalSeconds !== undefined)
    issues.push({
      path: `${prefix}.cron`,
      message: 'give either cron or intervalSeconds, not both',
    });
  const tz = spec.timezone ?? 'UTC';
  if (spec.timezone !== undefined && !isTimezone(spec.timezone))
    issues.push({
      path: `${prefix}.timezone`,
      message: `unknown IANA timezone "${spec.timezone}"`,
    });
  if (spec.cron !== undefined) {
    const message = cronProblem(spec.cron, isTimezone(tz) ? tz : 'UTC', now);
    if (message) issues.push({ path: `${prefix}.cron`, message });
  }
  if (spec.params !== undefined) {
    try {
      checkParamsTemplate(spec.params, isTimezone(tz) ? tz : 'UTC', `${prefix}.params`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      issues.push({ path: `${prefix}.params`, message: err.message });
    }
  }
  if (issues.length > 0)
    throw new ValidationError(issues[0]?.message ?? 'invalid schedule', issues);
}

function cronProblem(expression: string, timezone: string, now: Date): string | undefined {
  const trimmed = expression.trim();
  if (trimmed.length > MAX_CRON_LENGTH) return `cron longer than ${MAX_CRON_LENGTH} characters`;
  const fields = trimmed.split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `cron needs 5 or 6 fields, got ${fields}`;
  let cron: Cron;
  try {
    cron = cronOf(trimmed, timezone);
  } catch (err) {
    return `invalid cron: ${err instanceof Error ? err.message.slice(0, 200) : 'unparseable'}`;
  }
  if (cron.nextRun(now) === null) return 'cron never fires';
  return undefined;
}

/**
 * The next fire time of a cron after an instant, as croner last found it: the schedules due
 * together at an instant mostly share a cron, and croner's search (in the schedule's timezone)
 * was the tick's largest cost with 10,000 of them due at once.
 */
const nextCronRuns = new Map<string, Date | null>();

/** The first `count` fire times strictly after `after`. */
export function nextFireTimes(spec: EffectiveSpec, after: Date, count: number): Date[] {
  if (spec.cron !== null && count === 1) {
    const key = `${spec.timezone}\n${spec.cron}\n${after.getTime()}`;
    let next = nextCronRuns.get(key);
    if (next === undefined) {
      next = cronOf(spec.cron, spec.timezone).nextRun(after);
      if (nextCronRuns.size >= MAX_CRONS) nextCronRuns.clear();
      nextCronRuns.set(key, next);
    }
    return next ? [new Date(next)] : [];
  }
  if (spec.cron !== null) return cronOf(spec.cron, spec.timezone).nextRuns(count, after);
  const step = (spec.intervalSeconds ?? 1) * 1_000;
  // Interval schedules sit on a grid from the epoch, so every replica computes the same times.
  const first = (Math.floor(after.getTime() / step) + 1) * step;
  return Array.from({ length: count }, (_, i) => new Date(first + i * step));
}

export interface DueRuns {
  /** Fire times to enqueue now, each its own job. */
  runs: Date[];
  /** Where the schedule continues: its first fire time after `now`. */
  next: Date;
}

/**
 * The runs due between `nextDue` and `now`. Fire times older than `missedBefore` were missed
 * (scheduler paused or down): `misfire: run_once` turns them into one run (the latest),
 * `skip` drops them; later ones are enqueued one by one, so a failover loses none.
 */
export function dueRuns(
  spec: EffectiveSpec,
  nextDue: Date,
  now: Date,
  missedBefore: Date,
  maxRuns = 1_000,
): DueRuns {
  const runs: Date[] = [];
  let latestMissed: Date | undefined;
  let cursor: Date | undefined = nextDue;
  if (nextDue < missedBefore) {
    latestMissed = nextDue;
    // Jump over the missed stretch instead of walking it: a long downtime costs one lookup.
    const before = nextFireTimesBefore(spec, missedBefore);
    if (before && before > latestMissed) latestMissed = before;
    cursor = nextFireTimes(spec, new Date(missedBefore.getTime() - 1), 1)[0];
  }
  while (cursor && cursor <= now && runs.length < maxRuns) {
    runs.push(cursor);
    cursor = nextFireTimes(spec, cursor, 1)[0];
  }
  if (latestMissed && spec.misfire === 'run_once') runs.unshift(latestMissed);
  const next = cursor && cursor > now ? cursor : (nextFireTimes(spec, now, 1)[0] ?? now);
  return { runs, next };
}

/** The latest fire time strictly before `at`, if any. */
function nextFireTimesBefore(spec: EffectiveSpec, at: Date): Date | undefined {
  if (spec.cron !== null) {
    const [previous] = cronOf(spec.cron, spec.timezone).previousRuns(1, at);
    return previous && previous < at ? previous : undefined;
  }
  const step = (spec.intervalSeconds ?? 1) * 1_000;
  return new Date(Math.ceil(at.getTime() / step) * step - step);
}

/** A schedule's stable jitter: the same delay on every replica, spreading load across schedules. */
export function jitterMs(spec: EffectiveSpec, key: string): number {
  if (spec.jitterSeconds <= 0) return 0;
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % (spec.jitterSeconds * 1_000);
}
