import { hash } from 'node:crypto';
import { NonRetryableError } from '@psc/core';
import type { ChildResource, ResourceDefinition } from '@psc/contracts';
import { asArray, assertStorable, evaluate, storableText } from '@psc/platform-http';
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
 * What an expression that is one field name reads from an object, without JSONata; undefined
 * when the expression is more than a field name, the value no object, or the field absent.
 */
function ownField(source: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (!isPlainField(source) || !Object.hasOwn(value, source)) return undefined;
  return (value as Record<string, unknown>)[source];
}

/**
 * The items of a page. An `itemsPath` that names one field of the body holding an array (most
 * platforms: `data`, `items`) is read directly: JSONata answers that very array, after an
 * evaluation (a promise, frames, a sequence) per page.
 */
export async function extractItems(
  body: unknown,
  resource: ResourceDefinition,
): Promise<unknown[]> {
  const items = ownField(resource.itemsPath, body);
  if (Array.isArray(items)) return items as unknown[];
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
  const records: MappedRecord[] = [];
  for (const entry of list) {
    const mapped = mapItem(entry, child);
    records.push({ ...(mapped instanceof Promise ? await mapped : mapped), parentKey });
  }
  return records;
}

/**
 * Evaluates a mapping expression. Most are one field name of an object item; when that field
 * holds a string, finite number or boolean, JSONata would return exactly it, so it is
 * read directly: JSONata's evaluation per field and item was the largest JS cost of a job in
 * issue 7's profile. Anything else (paths, functions, objects, arrays, null, absent fields) goes to
 * JSONata: only then is there a promise to await (not one per field of every record).
 */
function evaluateField(source: string, item: unknown, where: string): unknown {
  const value = ownField(source, item);
  const type = typeof value;
  if (type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value))) {
    return value;
  }
  return evaluate(source, item, where);
}

/** A key JavaScript orders before all others in an object, whatever the insertion order. */
const INDEX_LIKE = /^(0|[1-9][0-9]*)$/;

/** One mapped field: its name, its expression, and where an error in it is said to be. */
type Field = readonly [field: string, source: string, where: string];

/**
 * A mapping's fields, built once per mapping (a resource keeps its mapping object): in canonical
 * order (as canonicalJson sorts keys) when writing them in that order makes JSON.stringify of a
 * record with no nested values its canonical text, which is not so when a field name is an array
 * index (objects always list those first, in numeric order).
 */
interface FieldPlan {
  fields: readonly Field[];
  canonical: boolean;
  /** No field name holds text PostgreSQL refuses: in a record of scalars only a string value can. */
  plainNames: boolean;
}
const plans = new WeakMap<Record<string, string>, FieldPlan>();
function fieldPlan(mapping: Record<string, string>): FieldPlan {
  let plan = plans.get(mapping);
  if (plan === undefined) {
    const names = Object.keys(mapping);
    const canonical = !names.some((f) => INDEX_LIKE.test(f));
    plan = {
      fields: (canonical ? names.sort() : names).map((f): Field => [
        f,
        mapping[f]!,
        `mapping.${f}`,
      ]),
      canonical,
      plainNames: names.every(storableText),
    };
    plans.set(mapping, plan);
  }
  return plan;
}

/** A record being mapped: `flat` while `data` holds only scalars (and nulls). */
interface Draft {
  key: string | number;
  data: Record<string, unknown>;
  flat: boolean;
}

function checkedKey(key: unknown): string | number {
  if (typeof key !== 'string' && typeof key !== 'number') {
    throw new NonRetryableError(
      'mapping_failed',
      `key: expected a string or number, got ${typeof key}`,
    );
  }
  return key;
}

function put(draft: Draft, field: string, value: unknown): void {
  if (value === undefined) return;
  if (value !== null && typeof value === 'object') {
    draft.flat = false;
    // Checked before the copy: JSON.stringify turns Infinity into null, and overflows the stack
    // on data nested a few thousand levels deep.
    assertStorable({ [field]: value }, 'mapping');
    draft.data[field] = JSON.parse(JSON.stringify(value)) as unknown;
  } else {
    draft.data[field] = value;
  }
}

function finish(draft: Draft, plan: FieldPlan): MappedRecord {
  const text = String(draft.key);
  // A record's key is in its primary key (btree entries stop near 2.7 KB) and in every change
  // event: a platform's key beyond this is its data's fault, not something to retry.
  if (text.length > MAX_KEY_LENGTH) {
    throw new NonRetryableError(
      'mapping_failed',
      `key: longer than ${MAX_KEY_LENGTH} characters (${text.length})`,
    );
  }
  assertStorable(text, 'key');
  const { data } = draft;
  // Object values were checked as they were put. Of the rest, a NUL or a lone surrogate can only
  // be in a string value or a field name, Infinity (1e400 parsed) in a number; the full walk (an
  // array of keys per record) runs only to say where.
  if (!plan.plainNames) assertStorable(data, 'mapping');
  for (let i = 0; i < plan.fields.length; i += 1) {
    const value = data[plan.fields[i]![0]];
    if (
      (typeof value === 'string' && !storableText(value)) ||
      (typeof value === 'number' && !Number.isFinite(value))
    ) {
      assertStorable(data, 'mapping');
    }
  }
  // With the fields in canonical order and only scalars, the canonical text is
  // JSON.stringify's, native and several times faster per record.
  return recordOf(text, data, draft.flat && plan.canonical ? JSON.stringify(data) : undefined);
}

async function finishLater(
  item: unknown,
  plan: FieldPlan,
  draft: Draft,
  from: number,
): Promise<MappedRecord> {
  for (let i = from; i < plan.fields.length; i += 1) {
    const f = plan.fields[i]!;
    let value = evaluateField(f[1], item, f[2]);
    if (value instanceof Promise) value = await value;
    put(draft, f[0], value);
  }
  return finish(draft, plan);
}

/**
 * Maps one upstream item to a record; JSONata sequences come back as plain arrays. Synchronous
 * while every field reads straight from the item (most mappings, every record of every page):
 * a promise and an async frame per record were a fifth of what a one-page job allocated. It
 * goes on asynchronously from the first field JSONata has to evaluate.
 */
export function mapItem(
  item: unknown,
  resource: Pick<ResourceDefinition, 'key' | 'mapping'>,
): MappedRecord | Promise<MappedRecord> {
  const plan = fieldPlan(resource.mapping);
  const key = evaluateField(resource.key, item, 'key');
  if (key instanceof Promise) {
    return key.then((k) =>
      finishLater(item, plan, { key: checkedKey(k), data: {}, flat: true }, 0),
    );
  }
  const draft: Draft = { key: checkedKey(key), data: {}, flat: true };
  const { fields } = plan;
  for (let i = 0; i < fields.length; i += 1) {
    // Indexed, not destructured: array destructuring runs the iterator protocol, an object
    // per field of every record.
    const f = fields[i]!;
    const value = evaluateField(f[1], item, f[2]);
    if (value instanceof Promise) {
      return value.then((v) => {
        put(draft, f[0], v);
        return finishLater(item, plan, draft, i + 1);
      });
    }
    put(draft, f[0], value);
  }
  return finish(draft, plan);
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

/**
 * Later duplicates of a key within one batch win, as they would in sequential writes. A page
 * without duplicates (almost every one) comes back as it is.
 */
export function collapseDuplicates(records: MappedRecord[]): MappedRecord[] {
  const byKey = new Map<string, MappedRecord>();
  for (const r of records) {
    byKey.set(r.parentKey ? `${r.parentKey}\u0000${r.key}` : r.key, r);
  }
  return byKey.size === records.length ? records : [...byKey.values()];
}
