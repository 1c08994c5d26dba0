import { hash } from 'node:crypto';
import { NonRetryableError } from '@psc/core';
import type { ChildResource, ResourceDefinition } from '@psc/contracts';
import { asArray, assertStorable, evaluate } from '@psc/platform-http';
import type { MappedRecord } from '../data-access/record.repository.ts';

/**
 * Key order must not change the hash. Keys sort by UTF-16 code units (the default sort), fields
 * holding `undefined` are left out. Written as loops: it runs for every record of every page.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i += 1) {
      if (i > 0) text += ',';
      text += canonicalJson(value[i]);
    }
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  let text = '{';
  let first = true;
  for (const key of keys) {
    const v = object[key];
    if (v === undefined) continue;
    if (!first) text += ',';
    first = false;
    text += `${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${text}}`;
}

export async function extractItems(
  body: unknown,
  resource: ResourceDefinition,
): Promise<unknown[]> {
  return asArray(await evaluate(resource.itemsPath, body, 'itemsPath'));
}

/**
 * Applies `successWhen` to a page: a platform that answers 200 with an error in its body
 * (`header.resultCode != '00'`) fails the call, with the body's own message when it has one.
 */
export async function checkSuccess(body: unknown, resource: ResourceDefinition): Promise<void> {
  if (!resource.successWhen) return;
  const ok = await evaluate(resource.successWhen, body, 'successWhen');
  if (ok === true) return;
  const said = resource.errorMessagePath
    ? await evaluate(resource.errorMessagePath, body, 'errorMessagePath').catch(() => undefined)
    : undefined;
  const message = typeof said === 'string' || typeof said === 'number' ? String(said) : '';
  throw new NonRetryableError(
    'upstream_error',
    `platform reported an error${message ? `: ${message.slice(0, 300)}` : ''}`,
  );
}

/** Maps a child collection of one parent item (seed 004's booth → menus). */
export async function mapChildren(
  item: unknown,
  child: ChildResource,
  parentKey: string,
): Promise<MappedRecord[]> {
  const list = asArray(await evaluate(child.itemsPath, item, `children.${child.name}.itemsPath`));
  const mapped = await Promise.all(list.map((entry) => mapItem(entry, child)));
  return mapped.map((r) => ({ ...r, parentKey }));
}

/** A JSONata expression that is just one field name (`name`, `id`), not a keyword. */
const PLAIN_FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(['true', 'false', 'null', 'and', 'or', 'in']);
const plainFields = new Map<string, boolean>();
const isPlainField = (source: string): boolean => {
  let plain = plainFields.get(source);
  if (plain === undefined) {
    plain = PLAIN_FIELD.test(source) && !KEYWORDS.has(source);
    if (plainFields.size < 2_000) plainFields.set(source, plain);
  }
  return plain;
};

/**
 * Evaluates a mapping expression. Most are one field name of an object item; when that field
 * holds a string, finite number or boolean, JSONata would return exactly it, so it is
 * read directly: JSONata's evaluation per field and item was the largest JS cost of a job in
 * issue 7's profile. Anything else (paths, functions, objects, arrays, null, absent fields) goes to
 * JSONata: only then is there a promise to await (not one per field of every record).
 */
function evaluateField(source: string, item: unknown, where: string): unknown {
  if (item !== null && typeof item === 'object' && !Array.isArray(item) && isPlainField(source)) {
    const value = Object.hasOwn(item, source)
      ? (item as Record<string, unknown>)[source]
      : undefined;
    const type = typeof value;
    if (type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value))) {
      return value;
    }
  }
  return evaluate(source, item, where);
}

/** A key JavaScript orders before all others in an object, whatever the insertion order. */
const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;

/**
 * A mapping's fields in canonical order (as canonicalJson sorts keys), when writing them in that
 * order makes JSON.stringify of a record with no nested values its canonical text: not when a
 * field name is an array index, which objects always list first and in numeric order.
 */
const canonicalOrders = new WeakMap<Record<string, string>, [string, string][] | null>();
function canonicalOrder(mapping: Record<string, string>): [string, string][] | null {
  let order = canonicalOrders.get(mapping);
  if (order === undefined) {
    const fields = Object.keys(mapping);
    order = fields.some((f) => INDEX_LIKE.test(f))
      ? null
      : fields.sort().map((f): [string, string] => [f, mapping[f]!]);
    canonicalOrders.set(mapping, order);
  }
  return order;
}

/** Maps one upstream item to a record; JSONata sequences come back as plain arrays. */
export async function mapItem(
  item: unknown,
  resource: Pick<ResourceDefinition, 'key' | 'mapping'>,
): Promise<MappedRecord> {
  let key = evaluateField(resource.key, item, 'key');
  if (key instanceof Promise) key = await key;
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new NonRetryableError(
      'mapping_failed',
      `key: expected a string or number, got ${typeof key}`,
    );
  }
  const order = canonicalOrder(resource.mapping);
  const data: Record<string, unknown> = {};
  // Whether `data` holds only scalars (and nulls): with the fields in canonical order, its
  // canonical text is then JSON.stringify's, native and several times faster per record.
  let flat = order !== null;
  for (const [field, source] of order ?? Object.entries(resource.mapping)) {
    let value = evaluateField(source, item, `mapping.${field}`);
    if (value instanceof Promise) value = await value;
    if (value === undefined) continue;
    if (value !== null && typeof value === 'object') {
      flat = false;
      data[field] = JSON.parse(JSON.stringify(value)) as unknown;
    } else {
      data[field] = value;
    }
  }
  const text = String(key);
  // A record's key is in its primary key (btree entries stop near 2.7 KB) and in every change
  // event: a platform's key beyond this is its data's fault, not something to retry.
  if (text.length > MAX_KEY_LENGTH) {
    throw new NonRetryableError(
      'mapping_failed',
      `key: longer than ${MAX_KEY_LENGTH} characters (${text.length})`,
    );
  }
  assertStorable(text, 'key');
  assertStorable(data, 'mapping');
  return recordOf(text, data, flat ? JSON.stringify(data) : undefined);
}

/**
 * A record with the hash the upsert compares, so an unchanged record is not rewritten. `json`,
 * when given, is `data`'s canonical text already.
 */
export function recordOf(
  key: string,
  data: Record<string, unknown>,
  json = canonicalJson(data),
): MappedRecord {
  return { key, data, json, hash: hash('sha256', json, 'hex') };
}

/** The longest record key psc stores. */
export const MAX_KEY_LENGTH = 1_000;

/** Later duplicates of a key within one batch win, as they would in sequential writes. */
export function collapseDuplicates(records: MappedRecord[]): MappedRecord[] {
  const byKey = new Map<string, MappedRecord>();
  for (const r of records) byKey.set(`${r.parentKey ?? ''}\u0000${r.key}`, r);
  return [...byKey.values()];
}
