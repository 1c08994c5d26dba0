import { NonRetryableError } from '@psc/core';
import type { ResourceDefinition } from '@psc/contracts';
import { asText, evaluate } from '@psc/platform-http';

/** A page to fetch: a path on the platform plus query, or an absolute `Link: rel="next"` URL. */
export type PageRequest = { path: string; query: Record<string, string> } | { url: string };

export interface PageResponse {
  body: unknown;
  headers: Record<string, string>;
  itemCount: number;
}

/** Asks for pages in the resource's pagination style and says when the data ends. */
export interface Pager {
  first(): PageRequest;
  next(previous: PageResponse): Promise<PageRequest | null>;
}

/** The `rel="next"` target of an RFC 8288 Link header, if any. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match && /(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2] ?? '')) {
      return match[1];
    }
  }
  return undefined;
}

export function createPager(
  resource: ResourceDefinition,
  options: { baseUrl: string; extraQuery?: Record<string, string> },
): Pager {
  const base = {
    path: resource.request.path,
    query: { ...resource.request.query, ...options.extraQuery },
  };
  const p = resource.pagination;
  if (p.type === 'none') return { first: () => base, next: () => Promise.resolve(null) };

  let fetched = 0;
  let seen = 0;
  const guard = () => {
    if (fetched >= p.maxPages) {
      throw new NonRetryableError(
        'max_pages_exceeded',
        `stopped after maxPages (${p.maxPages}) pages`,
      );
    }
  };
  /** True when a total count says everything has been fetched. */
  const reachedTotal = async (body: unknown, totalPath: string | undefined) => {
    if (!totalPath) return false;
    const total = Number(await evaluate(totalPath, body, 'pagination.totalPath'));
    return Number.isFinite(total) && seen >= total;
  };
  const at = (query: Record<string, string>): PageRequest => ({
    path: base.path,
    query: { ...base.query, ...query },
  });

  if (p.type === 'page' || p.type === 'offset') {
    const size = p.type === 'page' ? p.pageSize : p.limit;
    const position = (n: number) =>
      p.type === 'page'
        ? { [p.pageParam]: String(p.startPage + n), [p.sizeParam]: String(p.pageSize) }
        : { [p.offsetParam]: String(n * p.limit), [p.limitParam]: String(p.limit) };
    return {
      first: () => at(position(0)),
      async next({ itemCount, body }) {
        fetched += 1;
        seen += itemCount;
        // An empty or short page is the last one, as is reaching the announced total.
        if (itemCount < size || (await reachedTotal(body, p.totalPath))) return null;
        guard();
        return at(position(fetched));
      },
    };
  }

  if (p.type === 'cursor') {
    const limit = p.limitParam && p.limit ? { [p.limitParam]: String(p.limit) } : {};
    return {
      first: () => at(limit),
      async next({ body, itemCount }) {
        fetched += 1;
        const token = await evaluate(p.nextPath, body, 'pagination.nextPath');
        if (token === undefined || token === null || token === '' || itemCount === 0) return null;
        guard();
        return at({ ...limit, [p.cursorParam]: asText(token) });
      },
    };
  }

  const size = p.sizeParam && p.pageSize ? { [p.sizeParam]: String(p.pageSize) } : {};
  const origin = new URL(options.baseUrl).origin;
  return {
    first: () => at(size),
    next({ headers }) {
      fetched += 1;
      const link = nextLink(headers.link);
      if (!link) return Promise.resolve(null);
      guard();
      const url = new URL(link, options.baseUrl);
      if (url.origin !== origin) {
        throw new NonRetryableError(
          'redirect_blocked',
          `next link leaves the platform's origin (${url.origin})`,
        );
      }
      return Promise.resolve({ url: url.toString() });
    },
  };
}
