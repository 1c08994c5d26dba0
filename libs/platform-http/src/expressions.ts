import jsonata from 'jsonata';
import { NonRetryableError } from '@psc/core';

type Expression = ReturnType<typeof jsonata>;

const MAX_CACHED = 2_000;
const compiled = new Map<string, Expression>();

/** Compiled expressions are reused across jobs; the cache is bounded (oldest out first). */
function compile(source: string): Expression {
  let expr = compiled.get(source);
  if (!expr) {
    expr = jsonata(source);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(source, expr);
  }
  return expr;
}

/**
 * Evaluates a platform definition's JSONata (itemsPath, key, mapping, fanOut, ...). A broken
 * expression is the definition's fault, so it fails with the non-retryable `code`, naming
 * `where`. Results are not copied (pages can be large): a caller that hashes or compares a value
 * makes it plain JSON itself.
 */
export async function evaluate(
  source: string,
  input: unknown,
  where: string,
  code = 'mapping_failed',
): Promise<unknown> {
  try {
    return (await compile(source).evaluate(input)) as unknown;
  } catch (err) {
    throw new NonRetryableError(code, `${where}: ${(err as Error).message}`);
  }
}

/** A JSONata result as a list: nothing is empty, a single value is a list of one. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A JSONata result as request or cursor text: scalars as themselves, anything else as JSON. */
export function asText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}
