import type { SealedPlatform as Platform, ResourceDefinition } from '@psc/contracts';
import { checkSuccess, collapseDuplicates, extractItems, mapChildren, mapItem } from './mapping.ts';
import { createPager, type PageRequest } from '@psc/platform-http';
import type { MappedRecord } from '../data-access/record.repository.ts';

export type FetchPage = (
  platform: Platform,
  resource: ResourceDefinition,
  request: PageRequest,
  options: { signal?: AbortSignal },
) => Promise<{ body: unknown; headers: Record<string, string> }>;

export interface MappedPage {
  /** Items on the page as the platform sent them. */
  itemCount: number;
  records: MappedRecord[];
  /** Child records by child name. */
  children: Map<string, MappedRecord[]>;
}

/**
 * Fetches every page of a resource and hands each one, mapped, to `onPage` before asking for the
 * next; `beforePage` may throw to stop (cancellation, timeout).
 */
export async function forEachPage(args: {
  platform: Platform;
  resource: ResourceDefinition;
  fetchPage: FetchPage;
  extraQuery?: Record<string, string>;
  signal?: AbortSignal;
  beforePage: () => Promise<void>;
  onPage: (page: MappedPage, pageNumber: number) => Promise<void>;
}): Promise<void> {
  const { platform, resource } = args;
  const pager = createPager(
    resource.pagination,
    { path: resource.request.path, query: { ...resource.request.query, ...args.extraQuery } },
    { baseUrl: platform.baseUrl },
  );
  let request: PageRequest | null = pager.first();
  let pageNumber = 0;
  while (request) {
    await args.beforePage();
    const response = await args.fetchPage(platform, resource, request, {
      ...(args.signal ? { signal: args.signal } : {}),
    });
    await checkSuccess(response.body, resource);
    const items = await extractItems(response.body, resource);
    const records: MappedRecord[] = [];
    const children = new Map<string, MappedRecord[]>(resource.children.map((c) => [c.name, []]));
    for (const item of items) {
      const record = await mapItem(item, resource);
      records.push(record);
      for (const child of resource.children) {
        children.get(child.name)!.push(...(await mapChildren(item, child, record.key)));
      }
    }
    for (const [name, list] of children) children.set(name, collapseDuplicates(list));
    pageNumber += 1;
    await args.onPage(
      { itemCount: items.length, records: collapseDuplicates(records), children },
      pageNumber,
    );
    request = await pager.next({
      body: response.body,
      headers: response.headers,
      itemCount: items.length,
    });
  }
}
