import type { DriftReport } from '@psc/contracts';
import { canonicalJson } from './mapping.ts';
import type { MappedRecord } from '../data-access/record.repository.ts';

/** Items listed per kind; counts stay exact. */
const MAX_DRIFT_ITEMS = 1_000;

type Stored = Map<string, { data: Record<string, unknown>; hash: string }>;

/** Compares what the platform has now with what is stored. */
export function compareRecords(
  fetched: MappedRecord[],
  stored: Stored,
): Pick<DriftReport, 'missing' | 'extra' | 'changed'> & {
  counts: { missing: number; extra: number; changed: number };
} {
  const counts = { missing: 0, extra: 0, changed: 0 };
  const missing: DriftReport['missing'] = [];
  const extra: DriftReport['extra'] = [];
  const changed: DriftReport['changed'] = [];
  const seen = new Set<string>();
  for (const record of fetched) {
    seen.add(record.key);
    const old = stored.get(record.key);
    if (!old) {
      counts.missing += 1;
      if (missing.length < MAX_DRIFT_ITEMS) missing.push({ key: record.key, data: record.data });
    } else if (old.hash !== record.hash) {
      counts.changed += 1;
      if (changed.length < MAX_DRIFT_ITEMS) {
        changed.push({ key: record.key, fields: fieldDiffs(old.data, record.data) });
      }
    }
  }
  for (const [key, old] of stored) {
    if (seen.has(key)) continue;
    counts.extra += 1;
    if (extra.length < MAX_DRIFT_ITEMS) extra.push({ key, data: old.data });
  }
  return { counts, missing, extra, changed };
}

function fieldDiffs(
  old: Record<string, unknown>,
  now: Record<string, unknown>,
): { field: string; old: unknown; new: unknown }[] {
  const fields = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  return fields
    .filter((f) => canonicalJson(old[f]) !== canonicalJson(now[f]))
    .map((f) => ({ field: f, old: old[f] ?? null, new: now[f] ?? null }));
}
