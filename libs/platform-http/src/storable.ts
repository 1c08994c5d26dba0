import { NonRetryableError } from '@psc/core';

/**
 * The deepest nesting of platform data psc stores. JSON.parse takes a million levels, but
 * JSON.stringify overflows the stack at about 4,000, PostgreSQL's jsonb input at about 15,000
 * (max_stack_depth 2MB), and the hashing and copying of records recurse: data nested past this
 * is refused where it is found, with its field, instead of failing somewhere later as a stack
 * overflow (retried as an internal error). Real documents stay under a few dozen levels.
 */
export const MAX_STORED_DEPTH = 1_000;

/** Why a value cannot be stored, and the steps down to it (innermost first). */
interface Found {
  reason: string;
  deep: boolean;
  steps: (string | number)[];
}

/** Text PostgreSQL refuses: U+0000 anywhere, or a lone surrogate (jsonb rejects its escape). */
function textProblem(text: string): string | undefined {
  if (text.includes('\u0000'))
    return 'holds a NUL character (U+0000), which PostgreSQL cannot store';
  if (text.isWellFormed()) return undefined;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
        continue;
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const code = unit.toString(16).toUpperCase();
      return `holds a lone UTF-16 surrogate (U+${code}), which PostgreSQL cannot store`;
    }
  }
  return undefined;
}

/** Whether text is one PostgreSQL stores as it is (the cheap test run on every value). */
export const storableText = (text: string): boolean =>
  !text.includes('\u0000') && text.isWellFormed();

/**
 * The first value (or object key) PostgreSQL cannot store, or nested past MAX_STORED_DEPTH. A
 * key names its object. The path is built only when one is found: this runs over every record
 * of every page, and building `a.b[3]` for every value was most of its cost. Past the first
 * few levels a depth refusal names no further steps (a thousand of them say nothing).
 */
function problemIn(value: unknown, depth: number): Found | undefined {
  if (typeof value === 'string') {
    if (storableText(value)) return undefined;
    return { reason: textProblem(value)!, deep: false, steps: [] };
  }
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return undefined;
    // JSON has no Infinity: 1e400 parses to it, and JSON.stringify would store it as null.
    const reason = 'holds a number beyond the range of a double (such as 1e400), stored as null';
    return { reason, deep: false, steps: [] };
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_STORED_DEPTH) {
    const reason = `nests deeper than ${MAX_STORED_DEPTH} levels, more than psc stores`;
    return { reason, deep: true, steps: [] };
  }
  const named = (found: Found, step: string | number): Found => {
    if (depth < 3 || !found.deep) found.steps.push(step);
    return found;
  };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = problemIn(value[i], depth + 1);
      if (found) return named(found, i);
    }
    return undefined;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!storableText(key)) return { reason: textProblem(key)!, deep: false, steps: [] };
    const found = problemIn(object[key], depth + 1);
    if (found) return named(found, key);
  }
  return undefined;
}

function refuse(found: Found, path: string): never {
  let at = path;
  for (let i = found.steps.length - 1; i >= 0; i -= 1) {
    const step = found.steps[i]!;
    at += typeof step === 'number' ? `[${step}]` : `.${step}`;
  }
  throw new NonRetryableError('unstorable_data', `${at}: ${found.reason}`);
}

/**
 * Refuses platform data PostgreSQL cannot store: its text and jsonb reject U+0000, jsonb a lone
 * UTF-16 surrogate (`"\ud800"` is valid JSON, and JSON.parse keeps it), nesting past
 * MAX_STORED_DEPTH, and a number JSON.parse made Infinity (it would be stored as null, the
 * platform's value lost without a word). Said here, with the field, and for good, not as a database error or a stack
 * overflow retried as if it could pass next time.
 */
export function assertStorable(value: unknown, path: string): void {
  const found = problemIn(value, 0);
  if (found) refuse(found, path);
}

/** {@link assertStorable} for each item of a list, each named `path[i]` at its own depth. */
export function assertStorableEach(items: readonly unknown[], path: string): void {
  for (let i = 0; i < items.length; i += 1) {
    const found = problemIn(items[i], 0);
    if (found) refuse(found, `${path}[${i}]`);
  }
}
