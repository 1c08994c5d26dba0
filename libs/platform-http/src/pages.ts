import { hash } from 'node:crypto';
import { NonRetryableError } from '@psc/core';
import type { Pagination } from '@psc/contracts';
import { asText, evaluate } from './expressions.ts';

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

/**
 * Longest `Link` header read. A handful of links (next, prev, first, last) with long URLs fit in
 * well under 2 KB; a bigger header is the platform misbehaving, and fails the job rather than
 * being half-read.
 */
export const MAX_LINK_HEADER_CHARS = 8 * 1024;

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/**
 * The `rel="next"` target of an RFC 8288 Link header, if any. A single left-to-right scan that
 * looks at each character a bounded number of times: the regular expressions it replaces
 * backtracked quadratically, so a 16 KB header cost seconds per page.
 */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  if (header.length > MAX_LINK_HEADER_CHARS) {
    throw new NonRetryableError(
      'link_header_too_large',
      `the platform's Link header has ${header.length} characters, over the ${MAX_LINK_HEADER_CHARS} psc reads`,
    );
  }
  const n = header.length;
  let i = 0;
  const skipSpaces = () => {
    while (i < n && isSpace(header[i])) i += 1;
  };
  /** Moves past the current link-value, to just after the next `,` outside quotes. */
  const skipValue = () => {
    let quoted = false;
    for (; i < n; i += 1) {
      const c = header[i];
      if (quoted && c === '\\') i += 1;
      else if (c === '"') quoted = !quoted;
      else if (c === ',' && !quoted) break;
    }
    i += 1;
  };
  while (i < n) {
    while (i < n && (header[i] === ',' || isSpace(header[i]))) i += 1;
    if (i >= n) break;
    if (header[i] !== '<') {
      skipValue();
      continue;
    }
    const close = header.indexOf('>', i + 1);
    if (close === -1) return undefined;
    const target = header.slice(i + 1, close);
    i = close + 1;
    let rel: string | undefined;
    for (;;) {
      skipSpaces();
      if (header[i] !== ';') break;
      i += 1;
      skipSpaces();
      const nameStart = i;
      while (i < n && !'=;,'.includes(header[i]!) && !isSpace(header[i])) i += 1;
      const name = header.slice(nameStart, i).toLowerCase();
      skipSpaces();
      let value = '';
      if (header[i] === '=') {
        i += 1;
        skipSpaces();
        if (header[i] === '"') {
          i += 1;
          const parts: string[] = [];
          let from = i;
          while (i < n && header[i] !== '"') {
            if (header[i] === '\\') {
              parts.push(header.slice(from, i));
              i += 1;
              from = i;
            }
            i += 1;
          }
          parts.push(header.slice(from, i));
          value = parts.join('');
          i += 1;
        } else {
          const valueStart = i;
          while (i < n && header[i] !== ';' && header[i] !== ',' && !isSpace(header[i])) i += 1;
          value = header.slice(valueStart, i);
        }
      }
      // RFC 8288: only the first rel parameter counts.
      if (name === 'rel' && rel === undefined) rel = value;
    }
    const rels = (rel ?? '').toLowerCase().split(/[ \t]+/);
    if (rels.includes('next')) return target;
    if (i < n && header[i] !== ',') skipValue();
  }
  return undefined;
}

/**
 * The pages of a request in a resource's pagination style, shared by the sync-worker and the
 * collector so both keep the same bounds (`maxPages`, the Link header's length, its origin).
 * `first` is the request with its query already filled in (the collector's `{{param}}`s).
 */
export function createPager(
  pagination: Pagination,
  first: { path: string; query: Record<string, string> },
  options: { baseUrl: string },
): Pager {
  const base = first;
  const p = pagination;
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
  /**
   * Each cursor or next link the platform handed out, and the page it leads to: one handed out
   * again means its pages go round in a loop, which would otherwise be fetched again and again
   * until maxPages (1,000 requests by default) and then be reported as too many pages. Long
   * ones are kept by their hash, so a loop of large tokens cannot fill the memory.
   */
  const handedOut = new Map<string, number>();
  const once = (what: string, value: string) => {
    const id = value.length > 64 ? hash('sha256', value) : value;
    const page = handedOut.get(id);
    if (page !== undefined) {
      throw new NonRetryableError(
        'pagination_loop',
        `page ${fetched} gave the ${what} that led to page ${page} again: the platform's pages loop`,
      );
    }
    handedOut.set(id, fetched + 1);
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
        const cursor = asText(token);
        once('cursor', cursor);
        return at({ ...limit, [p.cursorParam]: cursor });
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
      once('next link', url.toString());
      return Promise.resolve({ url: url.toString() });
    },
  };
}
