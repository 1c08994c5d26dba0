import { createHash } from 'node:crypto';
import jsonata from 'jsonata';
import { NonRetryableError } from '@psc/core';
import type { ResourceDefinition } from '@psc/contracts';
import type { MappedRecord } from '../data-access/record.repository.ts';

type Expression = ReturnType<typeof jsonata>;

const MAX_CACHED = 2_000;
const compiled = new Map<string, Expression>();

/** Compiled expressions are reused across jobs; the cache is bounded. */
function compile(source: string): Expression {
  let expr = compiled.get(source);
  if (!expr) {
    expr = jsonata(source);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(source, expr);
  }
  return expr;
}

async function evaluate(source: string, input: unknown, where: string): Promise<unknown> {
  try {
    return await compile(source).evaluate(input);
  } catch (err) {
    throw new NonRetryableError('mapping_failed', `${where}: ${(err as Error).message}`);
  }
}

/** Key order must not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export async function extractItems(
  body: unknown,
  resource: ResourceDefinition,
): Promise<unknown[]> {
  const items = await evaluate(resource.itemsPath, body, 'itemsPath');
  if (items === undefined || items === null) return [];
  return Array.isArray(items) ? (items as unknown[]) : [items];
}

/** Maps one upstream item to a record; JSONata sequences come back as plain arrays. */
export async function mapItem(item: unknown, resource: ResourceDefinition): Promise<MappedRecord> {
  const key = await evaluate(resource.key, item, 'key');
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new NonRetryableError(
      'mapping_failed',
      `key: expected a string or number, got ${typeof key}`,
    );
  }
  const data: Record<string, unknown> = {};
  for (const [field, source] of Object.entries(resource.mapping)) {
    const value = await evaluate(source, item, `mapping.${field}`);
    if (value !== undefined) data[field] = JSON.parse(JSON.stringify(value)) as unknown;
  }
  const hash = createHash('sha256').update(canonicalJson(data)).digest('hex');
  return { key: String(key), data, hash };
}

/** Later duplicates of a key within one batch win, as they would in sequential writes. */
export function collapseDuplicates(records: MappedRecord[]): MappedRecord[] {
  const byKey = new Map<string, MappedRecord>();
  for (const r of records) byKey.set(r.key, r);
  return [...byKey.values()];
}
