import { useState, type FormEvent } from 'react';
import type { components } from '@psc/api-client';
import { useSession } from '../context.ts';
import { unwrap } from '../session.ts';
import { ErrorBox } from '../ui.tsx';
import type { Backfill } from './backfill-view.tsx';

type Platform = components['schemas']['Platform'];
type Request = components['schemas']['BackfillRequest'];

const STEPS: Request['step'][] = ['hour', 'day', 'week', 'month'];
const ZONES = Intl.supportedValuesOf('timeZone');

/** The template a resource's declared params suggest: each gets the step's date. */
const suggestion = (params: string[]): string =>
  JSON.stringify(
    Object.fromEntries((params.length ? params : ['date']).map((p) => [p, '{{date}}'])),
  );

/** A `datetime-local` value (`2024-05-01T13:00`) read as UTC, as the API takes it. */
const utc = (local: string): string => new Date(`${local}Z`).toISOString();

/** The other input's value when the range switches between dates and date-times. */
const retyped = (value: string, times: boolean): string =>
  !value ? '' : times ? `${value.slice(0, 10)}T00:00` : value.slice(0, 10);

/**
 * Starts a backfill (operator): the platform's active resources and the tasks each runs are
 * offered. The range is of dates (each the start of that day in the timezone) or, ticked and
 * for hourly steps by default, of UTC date-times, so an hourly range can start mid-day. What the
 * API refuses (a range that ends before it starts, a future day, a template
 * that does not fill a declared param) comes back as its own message and details.
 */
export function BackfillForm(props: {
  platforms: Platform[];
  onCreated: (created: Backfill) => void;
}) {
  const { client } = useSession();
  const platforms = props.platforms.filter((p) => p.active);
  const [platformId, setPlatformId] = useState('');
  const [resourceName, setResourceName] = useState('');
  const [taskType, setTaskType] = useState<Request['taskType'] | ''>('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [step, setStep] = useState<Request['step']>('day');
  const [times, setTimes] = useState(false);
  const [timezone, setTimezone] = useState('UTC');
  const [template, setTemplate] = useState('');
  const [maxConcurrent, setMaxConcurrent] = useState('2');
  const [priority, setPriority] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // A choice the next list no longer holds falls back to the first one offered.
  const platform = platforms.find((p) => p.id === platformId) ?? platforms[0];
  const resource =
    platform?.resources.find((r) => r.name === resourceName) ?? platform?.resources[0];
  const tasks = resource?.tasks ?? [];
  const task = taskType && tasks.includes(taskType) ? taskType : tasks[0];

  function showTimes(on: boolean) {
    if (on === times) return;
    setTimes(on);
    setFrom((v) => retyped(v, on));
    setTo((v) => retyped(v, on));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!platform || !resource || !task) return;
    let paramsTemplate: Request['paramsTemplate'] = {};
    if (template.trim()) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(template);
      } catch {
        parsed = null;
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
        setError(new Error('The params template must be a JSON object'));
        return;
      }
      paramsTemplate = parsed as Request['paramsTemplate'];
    }
    setBusy(true);
    try {
      const body: Request = {
        platformId: platform.id,
        resource: resource.name,
        taskType: task,
        from: times ? utc(from) : from,
        to: times ? utc(to) : to,
        step,
        timezone: timezone.trim(),
        paramsTemplate,
        maxConcurrent: Number(maxConcurrent),
        ...(priority ? { priority: Number(priority) } : {}),
      };
      props.onCreated(await unwrap(client.POST('/api/v1/backfills', { body })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!platform) return <p className="muted">No active platform to backfill.</p>;
  return (
    <form className="stacked" aria-label="New backfill" onSubmit={(e) => void submit(e)}>
      <label>
        Platform
        <select
          aria-label="Platform"
          value={platform.id}
          onChange={(e) => setPlatformId(e.target.value)}
        >
          {platforms.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Resource
        <select
          aria-label="Resource"
          value={resource?.name ?? ''}
          onChange={(e) => setResourceName(e.target.value)}
        >
          {platform.resources.map((r) => (
            <option key={r.name}>{r.name}</option>
          ))}
        </select>
      </label>
      <label>
        Task
        <select
          aria-label="Task"
          value={task ?? ''}
          onChange={(e) => setTaskType(e.target.value as Request['taskType'])}
        >
          {tasks.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      <label>
        Step
        <select
          aria-label="Step"
          value={step}
          onChange={(e) => {
            const next = e.target.value as Request['step'];
            setStep(next);
            if (next === 'hour') showTimes(true);
          }}
        >
          {STEPS.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={times} onChange={(e) => showTimes(e.target.checked)} />
        Times of day (UTC)
      </label>
      <RangeEnd label="From" times={times} value={from} onChange={setFrom} />
      <RangeEnd label="To" included times={times} value={to} onChange={setTo} />
      <label>
        Timezone
        <input
          required
          list="backfill-zones"
          maxLength={64}
          value={timezone}
          onChange={(e) => setTimezone(e.target.value)}
        />
        <datalist id="backfill-zones">
          {ZONES.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
      </label>
      <label>
        Params template (JSON)
        <textarea
          rows={4}
          spellCheck={false}
          aria-describedby="backfill-template-hint"
          placeholder={suggestion(resource?.params ?? [])}
          value={template}
          onChange={(e) => setTemplate(e.target.value)}
        />
      </label>
      <p className="hint" id="backfill-template-hint">
        {times ? 'The times are UTC; the timezone aligns day steps and fills the template. ' : ''}
        Filled per step in the timezone above: <code>{'{{date}}'}</code> is the step’s start,{' '}
        <code>{'{{yesterday}}'}</code>, <code>{'{{tomorrow}}'}</code> and <code>{'{{now}}'}</code>{' '}
        too; <code>{'{{date:yyyyMMdd}}'}</code> picks a format (date-fns tokens,{' '}
        <code>yyyy-MM-dd</code> by default).
        {task === 'collect' && resource?.params.length
          ? ` ${resource.name} needs a value for: ${resource.params.join(', ')}.`
          : ''}
      </p>
      <label>
        Runs at once (max concurrent)
        <input
          type="number"
          required
          min={1}
          max={100}
          value={maxConcurrent}
          onChange={(e) => setMaxConcurrent(e.target.value)}
        />
      </label>
      <label>
        Priority (1–9, optional: the platform’s by default)
        <input
          type="number"
          min={1}
          max={9}
          value={priority}
          onChange={(e) => setPriority(e.target.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        Start backfill
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** One end of the range: a date, or a date and time in UTC when the form asks for times. */
function RangeEnd(props: {
  label: string;
  included?: boolean;
  times: boolean;
  value: string;
  onChange: (value: string) => void;
}) {
  const notes = [props.times ? 'UTC' : '', props.included ? 'included' : ''].filter(Boolean);
  return (
    <label>
      {notes.length ? `${props.label} (${notes.join(', ')})` : props.label}
      <input
        type={props.times ? 'datetime-local' : 'date'}
        required
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}
