import { createHash } from 'node:crypto';

/** One item of a page the fake platform serves for the sync-job scenarios. */
interface Item {
  id: string;
  name: string;
  value: number;
}

/** A page mapped for the unnest upsert (`UPSERT_SQL`): parallel arrays of key, document, hash. */
export interface MappedPage {
  keys: string[];
  docs: string[];
  hashes: string[];
}

/**
 * The bare side of a sync job, shared by the baseline worker and the peers' workers so that all of
 * them do exactly the same work: fetch one page, map `{name, value}` of each item keyed by `id`,
 * hash each document with sha256.
 */
export async function fetchMappedPage(url: string): Promise<MappedPage> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const { data } = (await response.json()) as { data: Item[] };
  const page: MappedPage = { keys: [], docs: [], hashes: [] };
  for (const item of data) {
    const doc = JSON.stringify({ name: item.name, value: item.value });
    page.keys.push(item.id);
    page.docs.push(doc);
    page.hashes.push(createHash('sha256').update(doc).digest('hex'));
  }
  return page;
}
