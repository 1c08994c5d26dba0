import { TZDate } from '@date-fns/tz';
// One module per function (see backfill-plan.ts).
import { addDays } from 'date-fns/addDays';
import { format } from 'date-fns/format';
import { ValidationError } from '@psc/core';

/**
 * Params templates: a run's params with placeholders filled in when the run is made, so a
 * scheduled or backfilled collect can say `{"date": "{{date:yyyyMMdd}}"}`.
 *
 * A placeholder is `{{name}}` or `{{name:format}}` inside any string of the template (nested
 * objects and arrays too). Names:
 * - `date` (alias `today`): the run's logical date — a scheduled run's fire time, a backfill
 *   step's start;
 * - `yesterday`, `tomorrow`: that date one day before / after;
 * - `now`: the moment the run is made.
 * The format is date-fns' (Unicode tokens: `yyyy-MM-dd`, `yyyyMMdd`, `HH:mm`; text in single
 * quotes), applied in the schedule's or backfill's time zone; without one, `yyyy-MM-dd`. A string
 * that is exactly one placeholder becomes the formatted text, never a number.
 */

// Anything between `{{` and `}}` is a placeholder, so a misspelt name (`{{run_date}}`) or an
// overlong format is refused rather than sent to the platform as it was written.
const PLACEHOLDER = /\{\{([^{}:]*)(?::([^{}]*))?\}\}/g;
const DEFAULT_FORMAT = 'yyyy-MM-dd';
const MAX_FORMAT = 64;
const NAMES = ['date', 'today', 'yesterday', 'tomorrow', 'now'] as const;
type Name = (typeof NAMES)[number];
/** Bounds the work one template can cause at every run it makes. */
const MAX_PLACEHOLDERS = 100;
const MAX_DEPTH = 10;

export interface TemplateMoment {
  /** The run's logical date. */
  date: Date;
  /** When the run is made. */
  now: Date;
  timezone: string;
}

function value(name: Name, at: TemplateMoment): Date {
  const date = new TZDate(at.date.getTime(), at.timezone);
  switch (name) {
    case 'date':
    case 'today':
      return date;
    case 'yesterday':
      return addDays(date, -1);
    case 'tomorrow':
      return addDays(date, 1);
    case 'now':
      return new TZDate(at.now.getTime(), at.timezone);
  }
}

function renderString(text: string, at: TemplateMoment, path: string, budget: { n: number }) {
  return text.replace(PLACEHOLDER, (whole, written: string, fmt: string | undefined) => {
    const rawName = written.trim();
    const shown = whole.length > 80 ? `${whole.slice(0, 76)}…}}` : whole;
    if (--budget.n < 0)
      throw new ValidationError(`params template has more than ${MAX_PLACEHOLDERS} placeholders`, {
        field: path,
      });
    if (!(NAMES as readonly string[]).includes(rawName))
      throw new ValidationError(
        `unknown placeholder ${shown} in ${path}: use one of ${NAMES.join(', ')}`,
        { field: path },
      );
    if (fmt !== undefined && fmt.trim().length > MAX_FORMAT)
      throw new ValidationError(`date format in ${path} is longer than ${MAX_FORMAT} characters`, {
        field: path,
      });
    try {
      return format(value(rawName as Name, at), fmt?.trim() || DEFAULT_FORMAT);
    } catch (err) {
      throw new ValidationError(
        `bad date format in ${shown} at ${path}: ${err instanceof Error ? err.message : String(err)}`,
        { field: path },
      );
    }
  });
}

function render(
  node: unknown,
  at: TemplateMoment,
  path: string,
  budget: { n: number },
  depth = 0,
): unknown {
  if (depth > MAX_DEPTH)
    throw new ValidationError(`params template nests deeper than ${MAX_DEPTH}`, { field: path });
  if (typeof node === 'string') return renderString(node, at, path, budget);
  if (Array.isArray(node))
    return node.map((v, i) => render(v, at, `${path}[${i}]`, budget, depth + 1));
  if (node !== null && typeof node === 'object')
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, render(v, at, `${path}.${k}`, budget, depth + 1)]),
    );
  return node;
}

/** Fills a template's placeholders for one run; throws ValidationError naming the field. */
export function renderParams(
  template: Record<string, unknown>,
  at: TemplateMoment,
  root = 'params',
): Record<string, unknown> {
  return render(template, at, root, { n: MAX_PLACEHOLDERS }) as Record<string, unknown>;
}

/** Checks a template when it is saved, so a bad one is refused then rather than at 3 a.m. */
export function checkParamsTemplate(
  template: Record<string, unknown>,
  timezone: string,
  root = 'params',
): void {
  const now = new Date();
  renderParams(template, { date: now, now, timezone }, root);
}
