import type { components } from '@psc/api-client';

export type Backfill = components['schemas']['Backfill'];
type Progress = Backfill['progress'];

/** Steps whose run has ended, the ones the ledger no longer keeps included. */
const doneSteps = (p: Progress): number => p.succeeded + p.failed + p.dead + p.cancelled + p.purged;

/** Step states as an operator reads them: outcomes first, then what runs, then what waits. */
const STATES = [
  'succeeded',
  'failed',
  'dead',
  'cancelled',
  'purged',
  'running',
  'waiting',
  'queued',
  'pending',
] as const;

/** The non-zero step counts, e.g. `3 succeeded · 1 failed · 1 running · 2 pending`. */
const progressText = (p: Progress): string =>
  STATES.filter((s) => p[s] > 0)
    .map((s) => `${p[s]} ${s}`)
    .join(' · ') || 'no steps';

/** A bar of the steps that have ended, "n of m done" and the count per state. */
export function ProgressCell({ backfill }: { backfill: Backfill }) {
  const { progress } = backfill;
  const done = doneSteps(progress);
  return (
    <div>
      <progress value={done} max={Math.max(progress.steps, 1)} aria-label="Steps done" />{' '}
      <span>
        {done} of {progress.steps} done
      </span>
      <div className="muted">{progressText(progress)}</div>
    </div>
  );
}

/**
 * An instant as the backfill's timezone reads it (the zone its steps and `{{date}}` are in):
 * the date, and the time too for hourly steps or an instant that is not midnight.
 */
function inZone(iso: string, timeZone: string, hourly: boolean): string {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).formatToParts(new Date(iso));
  } catch {
    return iso;
  }
  const part = (type: Intl.DateTimeFormatPartTypes) =>
    parts.find((p) => p.type === type)?.value ?? '';
  const date = `${part('year')}-${part('month')}-${part('day')}`;
  const clock = `${part('hour')}:${part('minute')}`;
  return hourly || clock !== '00:00' ? `${date} ${clock}` : date;
}

/** `2024-05-01 → 2024-05-07` in the backfill's own timezone. */
export const rangeText = (b: Backfill): string =>
  `${inZone(b.from, b.timezone, b.step === 'hour')} → ${inZone(b.to, b.timezone, b.step === 'hour')}`;
