import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { call, type Api } from './api.ts';
import { CliError, EXIT, usageError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Platforms read when looking a name up: 20 pages of 500. */
const MAX_NAME_PAGES = 20;

const isUuid = (value: string): boolean => UUID.test(value);

/** A platform given by id or by name → its id. */
export async function platformId(api: Api, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_NAME_PAGES; page++) {
    const found = await call(
      api,
      api.client.GET('/api/v1/platforms', {
        params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } },
      }),
    );
    const match = found.items.find((p) => p.name === ref);
    if (match) return match.id;
    if (!found.nextCursor) break;
    cursor = found.nextCursor;
  }
  throw new CliError(`no platform named "${ref}"`, {
    exitCode: EXIT.failed,
    hint: 'List them with `psc platforms ls`; a platform can also be named by its id.',
  });
}

/** A commander argument parser for ids the API takes as UUIDs: a typo is a usage error. */
export function uuidArg(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError('expected an id (a UUID).');
  return value;
}

export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number.');
  return n;
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
