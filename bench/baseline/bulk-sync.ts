/*
 * Baseline for scenario 2: page through one resource with fetch and upsert every page with one
 * `INSERT … SELECT FROM unnest … ON CONFLICT DO UPDATE … WHERE hash differs`, all in one
 * transaction like psc's job. Prints `RESULT {"ms", "inserted", "updated", "unchanged"}`, exits.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { UPSERT_SQL } from './schema.ts';

const { DATABASE_URL, PLATFORM_URL, PAGE_SIZE, PLATFORM_ID, RESOURCE } = process.env;
if (!DATABASE_URL || !PLATFORM_URL || !PAGE_SIZE || !PLATFORM_ID || !RESOURCE) {
  throw new Error('bulk-sync: DATABASE_URL, PLATFORM_URL, PAGE_SIZE, PLATFORM_ID, RESOURCE');
}
const pageSize = Number(PAGE_SIZE);
const client = new pg.Client({ connectionString: DATABASE_URL });
await client.connect();
console.log('bulk-sync ready');

interface Item {
  id: string;
  name: string;
  value: number;
  group: string;
}

const started = performance.now();
const counts = { inserted: 0, updated: 0, unchanged: 0 };
await client.query('begin');
for (let page = 1; ; page++) {
  const response = await fetch(`${PLATFORM_URL}/bulk?page=${page}&size=${pageSize}`);
  const { data } = (await response.json()) as { data: Item[] };
  const keys: string[] = [];
  const docs: string[] = [];
  const hashes: string[] = [];
  for (const item of data) {
    const doc = JSON.stringify({ name: item.name, value: item.value, group: item.group });
    keys.push(item.id);
    docs.push(doc);
    hashes.push(createHash('sha256').update(doc).digest('hex'));
  }
  if (data.length > 0) {
    const { rows } = await client.query<{ inserted: boolean }>(UPSERT_SQL, [
      PLATFORM_ID,
      RESOURCE,
      keys,
      docs,
      hashes,
    ]);
    const inserted = rows.filter((r) => r.inserted).length;
    counts.inserted += inserted;
    counts.updated += rows.length - inserted;
    counts.unchanged += data.length - rows.length;
  }
  if (data.length < pageSize) break;
}
await client.query('commit');
const ms = performance.now() - started;
await client.end();
console.log(`RESULT ${JSON.stringify({ ms, ...counts })}`);
