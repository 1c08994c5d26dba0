import type { SealedPlatform as Platform, ResourceDefinition } from '@psc/contracts';
import { checkSuccess, collapseDuplicates, extractItems, mapChildren, mapItem } from './mapping.ts';
import { createPager, type PageRequest, type RequestOptions } from '@psc/platform-http';
import type { MappedRecord } from '../data-access/record.repository.ts';

export type FetchPage = (
  platform: Platform,
  resource: ResourceDefinition,
  request: PageRequest,
  options: RequestOptions,
) => Promise<{ body: unknown; headers: Record<string, string> }>;

export interface MappedPage {
  /** Items on the page as the platform sent them. */
  itemCount: number;
  records: MappedRecord[];
  /** Child records by child name. */
  children: Map<string, MappedRecord[]>;
}

/** What {@link Pages.forEach} is told to do with each page. */
interface PageVisit {
  /** Runs before each page is handed over; may throw to stop (cancellation, timeout). */
  beforePage: () => Promise<void>;
  /** `last`: no page follows this one. */
  onPage: (page: MappedPage, pageNumber: number, last: boolean) => Promise<void>;
}

/** The pages of one resource, the first already on its way. */
interface Pages {
  /**
   * Waits for the first page (mapped) and says whether another follows, without handing it
   * over: `forEach` still starts with it.
   */
  first(): Promise<{ page: MappedPage; last: boolean }>;
  /** Hands every page, mapped, to `visit.onPage`, in order. Call it once. */
  forEach(visit: PageVisit): Promise<void>;
  /** Drops a page still being fetched (its request is aborted). Safe to call at any time. */
  close(): void;
}

/**
 * Starts fetching a resource's first page at once, so its request overlaps whatever the caller
 * does before it wants the page. `forEach` then hands
 * each page over, mapped, in order; the next page is fetched and mapped while `onPage` stores
 * the current one (one page ahead, so at most two pages are held): a long sync keeps the
 * platform, this process and the database busy at once instead of in turn. A page fetched
 * ahead of a stop is dropped and its request aborted.
 */
export function openPages(args: {
  platform: Platform;
  resource: ResourceDefinition;
  fetchPage: FetchPage;
  extraQuery?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * The job's key: its first request may defer the job rather than wait long for a
   * rate-limited platform's turn (later pages wait: the job has begun).
   */
  deferAs?: string;
}): Pages {
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

  async function fetchMapped(request: PageRequest, deferAs?: string): Promise<Fetched> {
    const response = await args.fetchPage(platform, resource, request, { signal, deferAs });
    await checkSuccess(response.body, resource);
    const items = await extractItems(response.body, resource);
    const records: MappedRecord[] = [];
    const children = new Map<string, MappedRecord[]>(resource.children.map((c) => [c.name, []]));
    for (const item of items) {
      // Awaited only when the mapping needed JSONata: most records map synchronously.
      const mapped = mapItem(item, resource);
      const record = mapped instanceof Promise ? await mapped : mapped;
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

  /** Pages asked for and not fetched and mapped yet: only these are worth an abort. */
  let unanswered = 0;
  const started = (request: PageRequest, deferAs?: string): Promise<Fetched> => {
    unanswered += 1;
    const fetching = fetchMapped(request, deferAs).finally(() => {
      unanswered -= 1;
    });
    // Its failure is thrown where it is awaited; until then (or if a stop comes first) it must
    // not count as unhandled.
    fetching.catch(() => undefined);
    return fetching;
  };

  const firstPage = started(pager.first(), args.deferAs);
  let fetching: Promise<Fetched> | null = firstPage;
  let used = false;
  const close = () => {
    // A page fetched ahead of a stop is not wanted: its request ends here. An abort costs an
    // exception object and its listeners, so a job whose pages are all in (most) has none.
    if (unanswered > 0) ahead.abort();
    fetching = null;
  };
  return {
    close,
    async first() {
      const { page, next } = await firstPage;
      return { page, last: next === null };
    },
    async forEach({ beforePage, onPage }) {
      if (used) throw new Error('pages are visited once');
      used = true;
      let pageNumber = 0;
      try {
        while (fetching) {
          await beforePage();
          const { page, next }: Fetched = await fetching;
          fetching = next ? started(next) : null;
          pageNumber += 1;
          await onPage(page, pageNumber, fetching === null);
        }
      } finally {
        close();
      }
    },
  };
}

/** Every page of a resource, fetched and handed over as {@link openPages} does. */
export function forEachPage(args: Parameters<typeof openPages>[0] & PageVisit): Promise<void> {
  return openPages(args).forEach(args);
}
