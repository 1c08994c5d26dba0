import { randomUUID } from 'node:crypto';

export const VHOST_PREFIX = 'psc-test-';
export const DATABASE_PREFIX = 'psc_test_';

// Names carry their creation time so a later run can tell a crashed run's leftovers (old) from a
// concurrent run's live resources (new) without any shared bookkeeping.
const NAME_PATTERN = /^psc[-_]test[-_]([0-9a-z]{6,10})[-_][0-9a-f]{8}(?:[-_]|$)/;
const EARLIEST_PLAUSIBLE = Date.UTC(2024, 0, 1);

export interface TestResourceNames {
  vhost: string;
  database: string;
}

/**
 * Returns a vhost name `psc-test-<base36 ms>-<8 hex>[-label]` and a database name
 * `psc_test_<base36 ms>_<8 hex>[_label]` sharing the same time and random part.
 */
export function testResourceNames(now: number, label?: string): TestResourceNames {
  const time = now.toString(36);
  const random = randomUUID().replaceAll('-', '').slice(0, 8);
  // PostgreSQL truncates identifiers at 63 bytes; the fixed part is 26, so the label gets 24.
  const slug = (label ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 24)
    .replace(/_+$/, '');
  return {
    vhost: `${VHOST_PREFIX}${time}-${random}${slug ? `-${slug.replaceAll('_', '-')}` : ''}`,
    database: `${DATABASE_PREFIX}${time}_${random}${slug ? `_${slug}` : ''}`,
  };
}

/** The creation time encoded in a test resource name, or undefined if the name is not ours. */
export function createdAtFromName(name: string): number | undefined {
  const match = NAME_PATTERN.exec(name);
  if (!match?.[1]) return undefined;
  const time = parseInt(match[1], 36);
  return time >= EARLIEST_PLAUSIBLE ? time : undefined;
}
