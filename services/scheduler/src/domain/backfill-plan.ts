import { TZDate } from '@date-fns/tz';
// One module per function: date-fns' index loads every one of its ~250 functions, most of the
// scheduler's idle memory after start-up that the other services do not hold.
import { addDays } from 'date-fns/addDays';
import { addHours } from 'date-fns/addHours';
import { addMonths } from 'date-fns/addMonths';
import { addWeeks } from 'date-fns/addWeeks';
import { startOfDay } from 'date-fns/startOfDay';
import { startOfHour } from 'date-fns/startOfHour';
import {
  MAX_BACKFILL_STEPS,
  type Backfill,
  type BackfillRequest,
  type BackfillStep,
  type JobStatus,
} from '@psc/contracts';
import { ValidationError } from '@psc/core';
import { checkParamsTemplate } from './params-template.ts';

const ADD: Record<BackfillStep, (d: TZDate, n: number) => TZDate> = {
  hour: addHours,
  day: addDays,
  week: addWeeks,
  month: addMonths,
};

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** `2024-05-01` is that day's midnight in `timezone`; a full date-time is that instant. */
function parseMoment(text: string, timezone: string): TZDate {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) return new TZDate(Number(day[1]), Number(day[2]) - 1, Number(day[3]), timezone);
  return new TZDate(new Date(text).getTime(), timezone);
}

/** Where a step starts: hours on the hour, longer steps at midnight (in the time zone). */
function align(d: TZDate, step: BackfillStep): TZDate {
  return step === 'hour' ? startOfHour(d) : startOfDay(d);
}

/**
 * The steps of a backfill: each step's start from `from` to `to` (both included), in its time
 * zone. Refuses (422 naming the field) an unknown zone, a range that ends before it starts,
 * one of more than MAX_BACKFILL_STEPS steps, a range reaching into the future, and a params
 * template that does not render.
 */
export function backfillSteps(request: BackfillRequest, now: Date): Date[] {
  if (!isTimezone(request.timezone))
    throw new ValidationError(`unknown IANA timezone "${request.timezone}"`, {
      field: 'timezone',
    });
  const from = align(parseMoment(request.from, request.timezone), request.step);
  const to = parseMoment(request.to, request.timezone);
  if (to.getTime() < from.getTime())
    throw new ValidationError('`to` is before `from`', { field: 'to' });
  if (to.getTime() > now.getTime())
    throw new ValidationError('a backfill covers the past: `to` is in the future', {
      field: 'to',
    });
  const steps: Date[] = [];
  for (let at = from; at.getTime() <= to.getTime(); at = ADD[request.step](from, steps.length)) {
    if (steps.length === MAX_BACKFILL_STEPS)
      throw new ValidationError(
        `the range has more than ${MAX_BACKFILL_STEPS} steps of a ${request.step}: split it or take a longer step`,
        { field: 'to', limit: MAX_BACKFILL_STEPS },
      );
    steps.push(new Date(at.getTime()));
  }
  checkParamsTemplate(request.paramsTemplate, request.timezone, 'paramsTemplate');
  return steps;
}

/** Where each step's run stands. `null`: not enqueued yet; `purged`: the ledger dropped it. */
export type StepState = JobStatus | null | 'purged';

/** A backfill's progress and status from its steps' runs. */
export function backfillProgress(
  states: StepState[],
  cancelled: boolean,
): Pick<Backfill, 'status' | 'progress'> {
  const progress = {
    steps: states.length,
    pending: 0,
    queued: 0,
    running: 0,
    waiting: 0,
    succeeded: 0,
    failed: 0,
    dead: 0,
    cancelled: 0,
    purged: 0,
  };
  for (const s of states) {
    // A step with no run yet never gets one once the backfill is cancelled: it counts as such.
    if (s === null) progress[cancelled ? 'cancelled' : 'pending']++;
    else if (s === 'retrying' || s === 'waiting') progress.waiting++;
    else progress[s]++;
  }
  const open = progress.pending + progress.queued + progress.running + progress.waiting;
  const status = cancelled
    ? 'cancelled'
    : open > 0
      ? 'running'
      : progress.succeeded + progress.purged === progress.steps
        ? 'succeeded'
        : 'failed';
  return { status, progress };
}

/** How many more runs a backfill may open now. */
export const freeSlots = (maxConcurrent: number, open: number): number =>
  Math.max(0, maxConcurrent - open);
