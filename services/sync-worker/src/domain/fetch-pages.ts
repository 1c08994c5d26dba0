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
 * Fetches every page of a resource and hands each one, mapped, to `onPage`, in order. The next
 * page is fetched and mapped while `onPage` stores the current one (one page ahead, so at most
 * two pages are held): a long sync keeps the platform, this process and the database busy at
 * once instead of in turn. `beforePage` runs before each page is handed over and may throw to
 * stop (cancellation, timeout); a page fetched ahead of a stop is dropped and its request
 * aborted.
 */
export async function forEachPage(args: {
  platform: Platform;
  resource: ResourceDefinition;
  fetchPage: FetchPage;
  extraQuery?: Record<string, string>;
  signal?: AbortSignal;
  beforePage: () => Promise<void>;
  /** `last`: no page follows this one. */
  onPage: (page: MappedPage, pageNumber: number, last: boolean) => Promise<void>;
}): Promise<void> {
  const { platform, resource } = args;
  const pager = createPager(
    resource.pagination,
    { path: resource.request.path, query: { ...resource.request.query, ...args.extraQuery } },
    { baseUrl: platform.baseUrl },
  );
  const ahead = new AbortController();
  const signal = args.signal ? AbortSignal.any([args.signal, ahead.signal]) : ahead.signal;

  interface Fetched {
    page: MappedPage;
    next: PageRequest | null;
  }

  async function fetchMapped(request: PageRequest): Promise<Fetched> {
    const response = await args.fetchPage(platform, resource, request, { signal });
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
    const next = await pager.next({
      body: response.body,
      headers: response.headers,
      itemCount: items.length,
    });
    return {
      page: { itemCount: items.length, records: collapseDuplicates(records), children },
      next,
    };
  }

  const started = (request: PageRequest): Promise<Fetched> => {
    const fetching = fetchMapped(request);
    // Its failure is thrown where it is awaited; until then (or if a stop comes first) it must
    // not count as unhandled.
    fetching.catch(() => undefined);
    return fetching;
  };

  let fetching: Promise<Fetched> | null = started(pager.first());
  let pageNumber = 0;
  try {
    while (fetching) {
      await args.beforePage();
      const { page, next }: Fetched = await fetching;
      fetching = next ? started(next) : null;
      pageNumber += 1;
      await args.onPage(page, pageNumber, fetching === null);
    }
  } finally {
    // A page fetched ahead of a stop is not wanted: its request ends here.
    if (fetching) ahead.abort();
  }
}
