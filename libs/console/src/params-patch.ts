/** What psc shows in place of a secret (`REDACTED` in `@psc/contracts`). */
const REDACTED = '[redacted]';

type Params = Record<string, unknown>;

const isObject = (value: unknown): value is Params =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A job's params as the console lets an operator edit them: without the values psc shows as
 * `[redacted]`. Those stay as the job has them, since a replay's params are merged into its own.
 */
export function editableParams(params: unknown): Params {
  if (!isObject(params)) return {};
  const out: Params = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === REDACTED) continue;
    out[key] = isObject(value) ? editableParams(value) : value;
  }
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The merge patch (RFC 7396, what `POST /dlq/{jobId}/replay` takes) that turns `before` into
 * `after`: what changed, null for what was removed. So removing a line in the editor removes the
 * param, as the operator means, where sending the edited object would only add and replace.
 */
export function paramsPatch(before: Params, after: Params): Params {
  const patch: Params = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (same(old, value)) continue;
    patch[key] = isObject(old) && isObject(value) ? paramsPatch(old, value) : value;
  }
  return patch;
}

/** The editor's text as params, or why it is not. */
export function parseParams(text: string): Params {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('Params must be JSON, e.g. {"date": "2026-01-31"}');
  }
  if (!isObject(value))
    throw new Error('Params must be a JSON object, e.g. {"date": "2026-01-31"}');
  return value;
}
