import type { Pagination, SealedPlatform as Platform } from '@psc/contracts';
import {
  createPager,
  type PageRequest,
  type PlatformRequest,
  type RequestOptions,
} from '@psc/platform-http';
import type { RenderedRequest } from './request-template.ts';

export type CollectFetch = (
  platform: Platform,
  request: PlatformRequest,
  options: RequestOptions,
) => Promise<{ body: unknown; url: string; headers: Record<string, string> }>;

export interface FetchedPage {
  items: unknown[];
  /** The URL the page came from (credentials scrubbed): each document's provenance. */
  url: string;
}

/**
 * Every page of a collect request in the resource's pagination style, through the pager the
 * sync-worker uses (same `maxPages` and Link header bounds). `itemsOf` picks a page's items,
 * which also tell the pager when a short or empty page is the last; `onPage` may throw to stop
 * (a fan-out index over its bound).
 */
export async function fetchPages(args: {
  platform: Platform;
  pagination: Pagination;
  request: RenderedRequest;
  fetch: CollectFetch;
  itemsOf: (body: unknown) => Promise<unknown[]>;
  onPage?: (page: FetchedPage) => void;
  signal?: AbortSignal | undefined;
  /**
   * The job's key: the first page's request may defer the job rather than wait long for a
   * rate-limited platform's turn (later pages wait: the job has begun).
   */
  deferAs?: string;
}): Promise<FetchedPage[]> {
  const { method, headers, body, path, query } = args.request;
  const pager = createPager(args.pagination, { path, query }, { baseUrl: args.platform.baseUrl });
  const pages: FetchedPage[] = [];
  let next: PageRequest | null = pager.first();
  while (next) {
    args.signal?.throwIfAborted();
    const response = await args.fetch(
      args.platform,
      { method, headers, ...(body === undefined ? {} : { body }), ...next },
      { signal: args.signal, deferAs: pages.length === 0 ? args.deferAs : undefined },
    );
    const page = { items: await args.itemsOf(response.body), url: response.url };
    pages.push(page);
    args.onPage?.(page);
    next = await pager.next({
      body: response.body,
      headers: response.headers,
      itemCount: page.items.length,
    });
  }
  return pages;
}
