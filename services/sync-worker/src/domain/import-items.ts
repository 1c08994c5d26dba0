import { NonRetryableError } from '@psc/core';
import type { ResourceDefinition } from '@psc/contracts';
import type { MappedRecord } from '../data-access/record.repository.ts';
import { MAX_KEY_LENGTH, mapItem, recordOf } from './mapping.ts';

type Target = Pick<ResourceDefinition, 'key' | 'mapping'>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const fail = (message: string): never => {
  throw new NonRetryableError('mapping_failed', message);
};

/**
 * One line of an export (`{"key": …, <mapped fields>}`), stored as it is: the fields must be the
 * resource's mapped ones, so a file from another resource or platform is refused, not mixed in.
 */
export function recordFromExportLine(item: unknown, resource: Target): MappedRecord {
  const expected = `expected an export line {"key", ${Object.keys(resource.mapping).join(', ')}}`;
  if (!isObject(item))
    return fail(`${expected}, got ${Array.isArray(item) ? 'an array' : typeof item}`);
  const { key, ...data } = item;
  if (typeof key !== 'string' && typeof key !== 'number') {
    return fail(`key: ${expected}, got key ${key === undefined ? 'missing' : typeof key}`);
  }
  const unknown = Object.keys(data).filter((f) => !Object.hasOwn(resource.mapping, f));
  if (unknown.length > 0) {
    return fail(`${unknown.slice(0, 5).join(', ')}: not a mapped field; ${expected}`);
  }
  const text = String(key);
  if (text.length > MAX_KEY_LENGTH) fail(`key: longer than ${MAX_KEY_LENGTH} characters`);
  return recordOf(text, data);
}

/**
 * One upstream item through the resource's mapping. When its key comes out empty the message
 * says what shape was expected, and points an export's line to `shape=records`.
 */
export async function recordFromUpstreamItem(
  item: unknown,
  resource: Target,
): Promise<MappedRecord> {
  try {
    return await mapItem(item, resource);
  } catch (err) {
    if (!(err instanceof NonRetryableError) || !err.message.startsWith('key: expected')) throw err;
    const looksExported = isObject(item) && 'key' in item && !(resource.key in item);
    return fail(
      `key: the resource's key (${resource.key}) found nothing; expected an item as the platform ` +
        `sends it${looksExported ? '. This line looks like an export line {"key", …}: import those with shape=records' : ''}`,
    );
  }
}
