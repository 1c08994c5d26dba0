import { NonRetryableError } from '@psc/core';
import type { ResourceDefinition } from '@psc/contracts';

export interface PageRequest {
  path: string;
  query: Record<string, string>;
}

/** How to ask for page `n` (0-based count of pages fetched so far), or null when done. */
export interface Pager {
  first(): PageRequest;
  next(previous: { itemCount: number }): PageRequest | null;
}

export function createPager(resource: ResourceDefinition): Pager {
  const base = { path: resource.request.path, query: { ...resource.request.query } };
  const p = resource.pagination;
  if (p.type === 'none') {
    return { first: () => base, next: () => null };
  }
  if (p.type !== 'page') {
    throw new NonRetryableError(
      'unsupported_pagination',
      `${p.type} pagination is not supported yet`,
    );
  }
  let page = p.startPage;
  let fetched = 0;
  const at = (n: number): PageRequest => ({
    path: base.path,
    query: { ...base.query, [p.pageParam]: String(n), [p.sizeParam]: String(p.pageSize) },
  });
  return {
    first: () => at(page),
    next({ itemCount }) {
      fetched += 1;
      // A short or empty page is the last one.
      if (itemCount < p.pageSize) return null;
      if (fetched >= p.maxPages) {
        throw new NonRetryableError(
          'max_pages_exceeded',
          `stopped after maxPages (${p.maxPages}) pages`,
        );
      }
      page += 1;
      return at(page);
    },
  };
}
