import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { call, eachPage, type Api } from './api.ts';
import { CliError, EXIT, usageError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Platforms read when looking a name up: 20 pages of 500. */
const MAX_NAME_PAGES = 20;

const isUuid = (value: string): boolean => UUID.test(value);

/** A platform given by id or by name → its id. */
export async function platformId(api: Api, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  let read = 0;
  const pages = eachPage(
    api,
    (query) => api.client.GET('/api/v1/platforms', { params: { query } }),
    { limit: 500 },
  );
  for await (const page of pages) {
    const match = page.items.find((p) => p.name === ref);
    if (match) return match.id;
    if (++read === MAX_NAME_PAGES) break;
  }
  throw new CliError(`no platform named "${ref}"`, {
    exitCode: EXIT.failed,
    hint: 'List them with `psc platforms ls`; a platform can also be named by its id.',
  });
}

/** A platform given by id or by name → its name (what a collector is named by). */
export async function platformName(api: Api, ref: string): Promise<string> {
  if (!isUuid(ref)) return ref;
  const platform = await call(
    api,
    api.client.GET('/api/v1/platforms/{id}', { params: { path: { id: ref } } }),
  );
  return platform.name;
}

/** A commander argument parser for ids the API takes as UUIDs: a typo is a usage error. */
export function uuidArg(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError('expected an id (a UUID).');
  return value;
}

/** A whole number written as one (`Number` alone would take '', '0x10' and '1e3'). */
function wholeNumber(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

/** A commander parser of a whole number from `min` to `max`: out of range is a usage error. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = wholeNumber(value);
    if (n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number of at least ${min}.`
          : `expected a whole number from ${min} to ${max}.`,
      );
    }
    return n;
  };
}

export const positiveIntArg = intArg(1);

/**
 * A point in time as an operator types it (`2026-01-01`, `2026-01-01T08:00:00+02:00`) → the
 * UTC ISO form the API takes (`2026-01-01T06:00:00.000Z`). Without an offset it is UTC, as the
 * API's own times are, not the local time of whoever runs the command.
 */
export function isoTimeArg(value: string): string {
  const match =
    /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(
      value.trim(),
    );
  const time = match
    ? Date.parse(match[2] ? `${match[1]}T${match[2]}${match[3] ?? 'Z'}` : match[1]!)
    : NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError(
      'expected an ISO date or time, e.g. 2026-01-01 or 2026-01-01T08:00:00Z.',
    );
  }
  return new Date(time).toISOString();
}

/** `--params '{"date":"2026-01-01"}'` → an object. */
export function jsonObjectArg(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected a JSON object.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('expected a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** A JSON file given with `-f` (`-` for stdin). */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}
