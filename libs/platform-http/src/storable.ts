import { NonRetryableError } from '@psc/core';

/**
 * Where the first string (value or object key) holding U+0000 is, innermost step first; a key
 * holding it names its object. The path is built only when one is found: this runs over every
 * record of every page, and building `a.b[3]` for every value was most of its cost.
 */
function nulSteps(value: unknown): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? [] : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = nulSteps(value[i]);
      if (found) {
        found.push(i);
        return found;
      }
    }
    return undefined;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (key.includes('\u0000')) return [];
    const found = nulSteps(object[key]);
    if (found) {
      found.push(key);
      return found;
    }
  }
  return undefined;
}

function nulPath(value: unknown, path: string): string | undefined {
  const steps = nulSteps(value);
  if (!steps) return undefined;
  let at = path;
  for (let i = steps.length - 1; i >= 0; i -= 1) {
    const step = steps[i]!;
    at += typeof step === 'number' ? `[${step}]` : `.${step}`;
  }
  return at;
}

/**
 * Refuses platform data PostgreSQL cannot store: its text and jsonb reject U+0000. Said here,
 * with the field, and for good, not as a database error retried as if it could pass next time.
 */
export function assertStorable(value: unknown, path: string): void {
  const found = nulPath(value, path);
  if (found !== undefined) {
    throw new NonRetryableError(
      'unstorable_data',
      `${found}: holds a NUL character (U+0000), which PostgreSQL cannot store`,
    );
  }
}
