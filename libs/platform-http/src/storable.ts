import { NonRetryableError } from '@psc/core';

/** The path of the first string (value or object key) holding U+0000, if any. */
function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = nulPath(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return path;
    const found = nulPath(v, `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
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
